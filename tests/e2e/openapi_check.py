"""Validates the OpenAPI document (run by openapi.test.mjs).

  openapi_check.py DOCUMENT    exits 0 when DOCUMENT is a valid OpenAPI 3.1 document,
                               otherwise prints every problem found and exits 1

Besides the OpenAPI 3.1 validation proper (openapi-spec-validator: the structure, every schema
against the 3.1 dialect, unique operation ids), it rejects duplicate JSON keys, which a JSON
parser would silently resolve, and any `$ref` that does not point inside the document: the
document is served on its own, so it has to be self-contained.
"""

import json
import sys

from openapi_spec_validator import OpenAPIV31SpecValidator


def load(path):
    def unique(pairs):
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen[key] = value
        return seen

    with open(path, encoding="utf-8") as file:
        return json.load(file, object_pairs_hook=unique)


def resolve(document, pointer):
    node = document
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        elif isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return False
    return True


def escape(key):
    return key.replace("~", "~0").replace("/", "~1")


def broken_references(document):
    stack = [("", document)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not (ref.startswith("#/") and resolve(document, ref[1:])):
                yield f"{where or '/'}: $ref {ref!r} does not resolve inside the document"
            stack.extend((f"{where}/{escape(key)}", value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}/{index}", value) for index, value in enumerate(node))


def problems(document):
    yield from broken_references(document)
    try:
        for error in OpenAPIV31SpecValidator(document).iter_errors():
            location = "/".join(str(part) for part in getattr(error, "absolute_path", ()))
            yield f"/{location}: {getattr(error, 'message', error)}"
    except Exception as error:  # the validator raises on what it cannot traverse
        yield f"validation stopped: {type(error).__name__}: {str(error)[:500]}"


def main(path):
    try:
        document = load(path)
    except (OSError, ValueError) as error:
        print(f"{path}: {error}")
        return 1
    found = list(problems(document))
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
