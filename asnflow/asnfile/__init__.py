"""Association files: the JSON documents jwst writes, their schemas, reading, writing and comparing."""
