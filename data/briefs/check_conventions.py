import json, re, sys
n = sys.argv[1]
want = [m.group(1) for m in re.finditer(r"^► (\S+)", open(f"/work/relabel3/part{n}.md").read(), re.M)]
got, bad = {}, []
for k, line in enumerate(open(f"/work/relabel3/labels{n}.jsonl"), 1):
    if not line.strip():
        continue
    r = json.loads(line)
    labs = r.get("labels")
    if not isinstance(labs, list) or [l for l in ["trade", "energy", "defence", "culture"] if l in labs] != labs:
        bad.append(f"line {k}: labels must be a list in the order trade, energy, defence, culture")
    got[r["id"]] = labs
missing = [i for i in want if i not in got]
extra = [i for i in got if i not in want]
for msg in bad[:10]:
    print(msg)
if missing:
    print("missing", len(missing), missing[:10])
if extra:
    print("not marked", len(extra), extra[:10])
print("OK" if not (bad or missing or extra) else "NOT OK", len(got), "of", len(want))
