"""graphql-core as the reference for InfraStack's GraphQL engine (run by GraphQLTests).

  introspection-query             print graphql-core's full introspection query
  check <introspection> <sdl>     build a client schema from our introspection result and
                                  compare it with our printed SDL; print a JSON verdict
  errors <sdl> <documents.json>   parse+validate each document against our SDL; print the
                                  errors (message, locations) per document as JSON
"""
import json
import sys

from graphql import (build_client_schema, build_schema, get_introspection_query, lexicographic_sort_schema,
                     parse, print_schema, validate, GraphQLError)


def introspection_query():
    print(get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                  schema_description=True, input_value_deprecation=True))


def check(introspection_path, sdl_path):
    with open(introspection_path) as f:
        result = json.load(f)
    with open(sdl_path) as f:
        sdl = f.read()
    verdict = {"ok": True}
    try:
        client = build_client_schema(result["data"])
        ours = build_schema(sdl)
        a = print_schema(lexicographic_sort_schema(client))
        b = print_schema(lexicographic_sort_schema(ours))
        if a != b:
            import difflib
            verdict = {"ok": False, "problem": "introspection and SDL differ",
                       "diff": "\n".join(list(difflib.unified_diff(a.splitlines(), b.splitlines(), "introspection", "sdl", lineterm=""))[:80])}
        else:
            verdict["types"] = len(client.type_map)
    except Exception as e:  # report, do not crash: the Swift side prints it
        verdict = {"ok": False, "problem": f"{type(e).__name__}: {e}"}
    print(json.dumps(verdict))


def errors(sdl_path, docs_path):
    with open(sdl_path) as f:
        schema = build_schema(f.read())
    with open(docs_path) as f:
        docs = json.load(f)
    out = []
    for d in docs:
        try:
            errs = validate(schema, parse(d))
        except GraphQLError as e:
            errs = [e]
        out.append([{"message": e.message, "locations": [[l.line, l.column] for l in (e.locations or [])]} for e in errs])
    print(json.dumps(out))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "introspection-query":
        introspection_query()
    elif cmd == "check":
        check(sys.argv[2], sys.argv[3])
    elif cmd == "errors":
        errors(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
