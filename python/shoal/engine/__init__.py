"""The engine between the API and storage: sample conversion, chunk packing, read planning."""
