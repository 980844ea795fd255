"""Checks fse2's schemas with independent tools (openapi-spec-validator,
jsonschema): both files are valid, and each instance the Rust test wrote is
valid or invalid against its named schema as the test expects.

Usage: check_schemas.py OPENAPI.yaml CLAIMS.schema.json INSTANCES.json
INSTANCES.json: [{"schema": "api:CreateRequest" | "claims:SignatureClaims",
                  "valid": true|false, "label": "...", "instance": {...}}, ...]
Prints one line per mismatch; exits 1 if any.
"""
import json
import sys

import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012

api_path, claims_path, instances_path = sys.argv[1:4]
with open(api_path, encoding="utf-8") as f:
    api = yaml.safe_load(f)
with open(claims_path, encoding="utf-8") as f:
    claims = json.load(f)
with open(instances_path, encoding="utf-8") as f:
    instances = json.load(f)

validate_openapi(api)
Draft202012Validator.check_schema(claims)

claims_id = claims["$id"]
api_id = claims_id.rsplit("/", 1)[0] + "/fse-gateway.openapi.yaml"
registry = Registry().with_resources(
    [
        (api_id, DRAFT202012.create_resource(api)),
        (claims_id, DRAFT202012.create_resource(claims)),
    ]
)

failures = 0
for case in instances:
    kind, name = case["schema"].split(":", 1)
    pointer = "#/components/schemas/" + name if kind == "api" else "#/$defs/" + name
    base = api_id if kind == "api" else claims_id
    validator = Draft202012Validator({"$ref": base + pointer}, registry=registry)
    errors = [e.message for e in validator.iter_errors(case["instance"])]
    if bool(errors) == case["valid"]:
        failures += 1
        expected = "valid" if case["valid"] else "invalid"
        print(f"{case['label']}: expected {expected} against {case['schema']}, errors: {errors}")

print(f"checked {len(instances)} instances, {failures} mismatches")
sys.exit(1 if failures else 0)
