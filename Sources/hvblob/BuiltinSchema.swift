// SPDX-License-Identifier: Apache-2.0

/// The vector schema, as Fixtures/vectors/vectors.schema.json holds it: `vectors generate` writes
/// it beside the vectors, and `vectors check` / `run` and `conformance` use it when no schema is
/// beside the files and none is given with --schema. A test checks it is the committed file.
let builtinVectorSchema = #"""
{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://github.com/hvblob/hvblob/Fixtures/vectors/vectors.schema.json",
  "title": "hvblob test vectors",
  "description": "One file per group. Each vector: id, the rule it tests (MUST or SHOULD), a comment, where it came from, the targets it applies to, its inputs and the expected result. Validate with 'hvblob vectors check'.",
  "type": "object",
  "required": ["$schema", "group", "description", "generator", "numberOfVectors", "vectors"],
  "additionalProperties": false,
  "properties": {
    "$schema": {"type": "string"},
    "group": {"enum": ["ioctl", "layouts", "mpb", "ring", "request-ids", "completions", "lifecycle"]},
    "description": {"type": "string", "minLength": 1},
    "generator": {"type": "string", "pattern": "^hvblob vectors generate --seed 0x[0-9a-f]+$"},
    "numberOfVectors": {"type": "integer", "minimum": 1},
    "vectors": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/vector"}}
  },
  "allOf": [
    {"if": {"properties": {"group": {"const": "ioctl"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/ioctlInputs"}, "expected": {"$ref": "#/$defs/errnoPackets"}}}}}}},
    {"if": {"properties": {"group": {"const": "mpb"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/ioctlInputs"}, "expected": {"$ref": "#/$defs/mpbExpected"}}}}}}},
    {"if": {"properties": {"group": {"const": "layouts"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/layoutInputs"}, "expected": {"$ref": "#/$defs/hexExpected"}}}}}}},
    {"if": {"properties": {"group": {"const": "ring"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/ringInputs"}, "expected": {"$ref": "#/$defs/results"}}}}}}},
    {"if": {"properties": {"group": {"const": "request-ids"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/rqstorInputs"}, "expected": {"$ref": "#/$defs/results"}}}}}}},
    {"if": {"properties": {"group": {"const": "completions"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/completionInputs"}, "expected": {"$ref": "#/$defs/completionExpected"}}}}}}},
    {"if": {"properties": {"group": {"const": "lifecycle"}}},
     "then": {"properties": {"vectors": {"items": {"properties": {"inputs": {"$ref": "#/$defs/lifecycleInputs"}, "expected": {"$ref": "#/$defs/lifecycleExpected"}}}}}}}
  ],
  "$defs": {
    "u32": {"type": "integer", "minimum": 0, "maximum": 4294967295},
    "u64": {"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
    "pageOffset": {"type": "integer", "minimum": 0, "maximum": 4095},
    "errno": {"type": "string", "pattern": "^(0|E[A-Z]+)$"},
    "guid": {"type": "string", "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"},
    "mapping": {"enum": ["populated", "untouched", "read-only", "unmapped"]},
    "vector": {
      "type": "object",
      "required": ["id", "rule", "level", "comment", "origin", "targets", "inputs", "expected"],
      "additionalProperties": false,
      "properties": {
        "id": {"type": "string", "pattern": "^[a-z-]+-[0-9]{4}$"},
        "rule": {"type": "string", "pattern": "^[a-z0-9-]+(\\.[a-z0-9-]+)+$"},
        "level": {"enum": ["MUST", "SHOULD"]},
        "comment": {"type": "string", "minLength": 1},
        "origin": {"enum": ["generated", "hand-written"]},
        "why": {"type": "string", "minLength": 1},
        "targets": {"type": "array", "minItems": 1, "items": {"enum": ["model", "driver"]}},
        "inputs": {"type": "object"},
        "expected": {"type": "object"}
      },
      "if": {"properties": {"origin": {"const": "hand-written"}}},
      "then": {"required": ["why"]}
    },
    "ioctlInputs": {
      "type": "object",
      "additionalProperties": false,
      "required": ["command", "request_len", "response_len", "data_len", "data_valid", "request_offset", "response_offset", "data_offset",
                   "request_mapping", "response_mapping", "data_mapping", "argument", "credentials_changed"],
      "properties": {
        "command": {"type": "string", "pattern": "^0x[0-9a-f]{1,8}$"},
        "request_len": {"$ref": "#/$defs/u32"}, "response_len": {"$ref": "#/$defs/u32"},
        "data_len": {"$ref": "#/$defs/u32"}, "data_valid": {"$ref": "#/$defs/u32"},
        "request_offset": {"$ref": "#/$defs/pageOffset"}, "response_offset": {"$ref": "#/$defs/pageOffset"}, "data_offset": {"$ref": "#/$defs/pageOffset"},
        "request_mapping": {"$ref": "#/$defs/mapping"}, "response_mapping": {"$ref": "#/$defs/mapping"}, "data_mapping": {"$ref": "#/$defs/mapping"},
        "argument": {"enum": ["mapped", "unmapped", "short"]},
        "credentials_changed": {"type": "boolean"}
      }
    },
    "errnoPackets": {
      "type": "object", "additionalProperties": false, "required": ["errno", "packets"],
      "properties": {"errno": {"$ref": "#/$defs/errno"}, "packets": {"type": "integer", "minimum": 0, "maximum": 1}}
    },
    "mpbExpected": {
      "type": "object", "additionalProperties": false, "required": ["errno"],
      "properties": {
        "errno": {"$ref": "#/$defs/errno"}, "pfn_count": {"type": "integer", "minimum": 2, "maximum": 8192},
        "range_len": {"$ref": "#/$defs/u32"}, "range_offset": {"$ref": "#/$defs/u32"},
        "dataoffset8": {"type": "integer", "minimum": 0, "maximum": 65535}, "length8": {"type": "integer", "minimum": 0, "maximum": 65535},
        "data_buffer_offset": {"$ref": "#/$defs/u32"}, "data_buffer_length": {"$ref": "#/$defs/u32"}, "data_buffer_valid": {"$ref": "#/$defs/u32"},
        "request_buffer_offset": {"$ref": "#/$defs/u32"}, "request_buffer_length": {"$ref": "#/$defs/u32"},
        "response_buffer_offset": {"$ref": "#/$defs/u32"}, "response_buffer_length": {"$ref": "#/$defs/u32"}
      }
    },
    "layoutInputs": {
      "type": "object", "additionalProperties": false, "required": ["struct", "fields"],
      "properties": {
        "struct": {"enum": ["az_blob_request_sync", "az_blob_vsp_request", "az_blob_vsp_response", "vmpacket_descriptor"]},
        "fields": {"type": "object", "additionalProperties": {"anyOf": [{"$ref": "#/$defs/u64"}, {"$ref": "#/$defs/guid"}]}}
      }
    },
    "hexExpected": {
      "type": "object", "additionalProperties": false, "required": ["hex"],
      "properties": {"hex": {"type": "string", "pattern": "^([0-9a-f]{2})+$"}}
    },
    "ringInputs": {
      "type": "object", "additionalProperties": false, "required": ["ring_size", "ops"],
      "properties": {
        "ring_size": {"type": "integer", "minimum": 8192, "maximum": 4194304},
        "ops": {"type": "array", "minItems": 1, "items": {"oneOf": [
          {"type": "object", "additionalProperties": false, "required": ["op", "len"], "properties": {"op": {"const": "write"}, "len": {"type": "integer", "minimum": 16, "maximum": 65536}}},
          {"type": "object", "additionalProperties": false, "required": ["op"], "properties": {"op": {"const": "read"}}},
          {"type": "object", "additionalProperties": false, "required": ["op", "on"], "properties": {"op": {"const": "mask"}, "on": {"type": "boolean"}}},
          {"type": "object", "additionalProperties": false, "required": ["op", "bytes"], "properties": {"op": {"const": "pending"}, "bytes": {"$ref": "#/$defs/u32"}}}
        ]}}
      }
    },
    "rqstorInputs": {
      "type": "object", "additionalProperties": false, "required": ["size", "kernel", "ops"],
      "properties": {
        "size": {"type": "integer", "minimum": 1, "maximum": 65536},
        "kernel": {"type": "string", "pattern": "^[56]\\.[0-9]+$"},
        "ops": {"type": "array", "minItems": 1, "items": {"oneOf": [
          {"type": "object", "additionalProperties": false, "required": ["op"], "properties": {"op": {"const": "allocate"}}},
          {"type": "object", "additionalProperties": false, "required": ["op", "id"], "properties": {"op": {"const": "lookup"}, "id": {"$ref": "#/$defs/u64"}}}
        ]}}
      }
    },
    "results": {
      "type": "object", "additionalProperties": false, "required": ["results"],
      "properties": {"results": {"type": "array"}}
    },
    "completionInputs": {
      "type": "object", "additionalProperties": false, "required": ["response_buffer_len", "completion", "then_real_completion"],
      "properties": {
        "response_buffer_len": {"type": "integer", "minimum": 1, "maximum": 1048576},
        "then_real_completion": {"type": "boolean"},
        "completion": {
          "type": "object", "additionalProperties": false, "required": ["type", "offset8", "len8", "flags", "trans_id", "error", "response_len"],
          "properties": {
            "type": {"type": "integer", "minimum": 0, "maximum": 65535}, "offset8": {"type": "integer", "minimum": 0, "maximum": 64},
            "len8": {"type": "integer", "minimum": 2, "maximum": 64}, "flags": {"type": "integer", "minimum": 0, "maximum": 65535},
            "trans_id": {"enum": ["request", "zero", "unknown", "duplicate"]},
            "error": {"$ref": "#/$defs/u32"}, "response_len": {"$ref": "#/$defs/u32"}
          }
        }
      }
    },
    "completionExpected": {
      "type": "object", "additionalProperties": false, "required": ["errno", "status", "response_len", "guest_findings"],
      "properties": {"errno": {"$ref": "#/$defs/errno"}, "status": {"$ref": "#/$defs/u32"}, "response_len": {"$ref": "#/$defs/u32"},
                     "guest_findings": {"type": "array", "maxItems": 0}}
    },
    "lifecycleInputs": {
      "type": "object", "additionalProperties": false, "required": ["steps"],
      "properties": {"steps": {"type": "array", "minItems": 1, "items": {"type": "string",
        "pattern": "^(ioctl|ioctl-held|complete|wait|rescind|remove|release|open|advance [0-9]+)$"}}}
    },
    "lifecycleExpected": {
      "type": "object", "additionalProperties": false, "required": ["results", "channel", "guest_findings"],
      "properties": {
        "results": {"type": "array", "items": {"type": "string"}},
        "channel": {"enum": ["open", "closed"]},
        "guest_findings": {"type": "array", "maxItems": 0}
      }
    }
  }
}
"""#
