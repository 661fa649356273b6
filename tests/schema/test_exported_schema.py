"""schema.graphql is the reviewed artifact: it matches the code, and everything in it is described."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema.root import schema

EXPORTED = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_the_committed_sdl_matches_the_code():
    assert EXPORTED.read_text(encoding="utf-8") == schema.as_str() + "\n", (
        "schema.graphql is stale: run `python main.py export-schema`"
    )


def test_every_type_field_and_argument_has_a_description():
    missing = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field_name, field in graphql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for argument_name, argument in getattr(field, "args", {}).items():
                    if not argument.description:
                        missing.append(f"{name}.{field_name}({argument_name})")
    assert missing == []


def test_enums_are_the_domain_vocabularies():
    business_type = schema._schema.type_map["BusinessType"]
    assert isinstance(business_type, GraphQLEnumType)
    assert {"ENROLL_FLEXIBLE", "PAY_ARREARS", "CANCEL_ARREARS", "ADD_EMPLOYEES", "BOOK_APPOINTMENT"} <= set(
        business_type.values
    )
