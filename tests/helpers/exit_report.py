# Validates a rinit exit report (argv[1]) against docs/exit-report.schema.json
# with the real jsonschema validator, then prints its facts one per line:
#   EXIT code=99 main=0 mode=fail oom=0 stuck=None
#   START error=cannot create a signalfd: ...    (only when main_child is null)
#   ORPHANS count=100 names=sleep:100
#   LEFT pid=3 comm=sleep reparented=True end=exited after_ms=2 code=None signal=15
#   ARGV pid=3 args=2 bytes=9 truncated=False total=10
import json, os, sys
import jsonschema

schema_path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "exit-report.schema.json")
schema = json.load(open(schema_path))
jsonschema.Draft202012Validator.check_schema(schema)
doc = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator(schema).validate(doc)
stuck = None if doc["stuck"] is None else len(doc["stuck"]["tasks"])
main = doc["main_child"]
print(f"EXIT code={doc['exit_code']} main={main and main['exit_code']} mode={doc['leaks_mode']} oom={doc['oom_kills']} stuck={stuck}")
assert (main is None) == (doc["start_error"] is not None), doc
if main is None:
    print(f"START error={doc['start_error']}")
o = doc["orphans"]
print(f"ORPHANS count={o['count']} names={','.join(n['name'] + ':' + str(n['count']) for n in o['names'])}")
for l in doc["leftovers"] or []:
    print(
        f"LEFT pid={l['pid']} comm={l['comm']} reparented={l['reparented']} end={l['end']} "
        f"after_ms={l['end_after_ms']} code={l['exit_code']} signal={l['signal']}"
    )
    argv = l["cmdline"]
    print(
        f"ARGV pid={l['pid']} args={len(argv)} bytes={sum(len(a.encode()) for a in argv)} "
        f"truncated={l['cmdline_truncated']} total={l['cmdline_bytes']}"
    )
