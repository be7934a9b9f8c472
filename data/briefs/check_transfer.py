"""Check one transfer file (unlabelled readouts): fields, registers, near twins."""
import json, re, sys

LABELS = ["trade", "energy", "defence", "culture"]
CLAUSES = set("""trade.goods trade.investment trade.finance trade.agri_food trade.industry trade.minerals
trade.zones trade.connectivity trade.bri energy.oil_gas energy.power energy.nuclear energy.renewables
energy.security energy.corridors energy.coal_uranium defence.military defence.arms defence.industry
defence.exercises defence.security defence.border defence.maritime defence.posture defence.peacekeeping
defence.cyber defence.nonproliferation culture.arts_heritage culture.religion culture.education
culture.people culture.tourism culture.sports culture.media culture.values none.dialogue none.regional
none.peace none.forum none.health none.climate none.science_tech none.water none.aid none.labour
none.visas none.office_name rule.list rule.energy_trade rule.energy_supply rule.aid_area rule.context
rule.context_unclear""".split())
REGISTERS = {"state_media", "ministry_statement", "joint_statement", "wire", "news_report",
             "quoted_remarks", "speech", "op_ed", "social_post"}
FIELDS = ["id", "doc_id", "text", "register", "countries", "date"]


def grams(t):
    t = re.sub(r"\s+", " ", t.lower())
    return {t[i:i + 5] for i in range(max(1, len(t) - 4))}


def main(path):
    problems, rows = [], []
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {n}: bad JSON ({e})"); continue
        missing = [f for f in FIELDS if f not in r]
        if missing:
            problems.append(f"line {n}: missing {missing}")
        if "labels" in r:
            problems.append(f"line {n}: no labels in transfer files")
        if r.get("register") not in REGISTERS:
            problems.append(f"line {n}: register {r.get('register')!r} not in {sorted(REGISTERS)}")
        if not str(r.get("text", "")).strip() or "\n" in str(r.get("text", "")):
            problems.append(f"line {n}: empty text or line break inside")
        if len(str(r.get("text", "")).split()) > 80:
            problems.append(f"line {n}: over 80 words")
        rows.append(r)
    ids = [r.get("id") for r in rows]
    if len(set(ids)) != len(ids):
        problems.append("duplicate ids")
    texts = [r.get("text", "") for r in rows]
    g = [grams(t) for t in texts]
    for i in range(len(g)):
        for j in range(i + 1, len(g)):
            if len(texts[i]) > 30 and len(g[i] & g[j]) / len(g[i] | g[j]) >= 0.7:
                problems.append(f"near twins: {ids[i]} / {ids[j]}")
    docs = {}
    for r in rows:
        docs.setdefault(r.get("doc_id"), []).append(r)
    print(f"{path}: {len(docs)} readouts, {len(rows)} sentences")
    for p in problems[:50]:
        print("PROBLEM", p)
    print("OK" if not problems else f"{len(problems)} problems")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        main(p)
