"""strawberry types, inputs, enums, errors and scalars; the assembled schema is schema.root.schema."""
