// SPDX-License-Identifier: Apache-2.0

/// A whole VMBus packet decoded field by field (a GPA-direct MPB packet or a completion, by its
/// type field): what `hvblob decode` prints and what a replay divergence is reported in.
public enum PacketFields {
    public static func lines(_ bytes: [UInt8]) throws(WireError) -> (title: String, fields: [(WireField, String)]) {
        var r = WireReader(bytes, structure: PacketDescriptor.wireName)
        let d = try PacketDescriptor(from: &r)
        if d.type == .dataUsingGPADirect {
            let p = try GPADirectPacket.decode(bytes)
            return ("GPA-direct packet (\(bytes.count) bytes, \(p.pfns.count) PFNs)", p.fieldLines)
        }
        var out = zip(PacketDescriptor.fields, d.fieldValues).map { ($0, $1) }
        let start = Int(d.offset8) * 8
        if start < PacketDescriptor.wireSize || start > bytes.count {
            throw WireError(.badValue, structure: PacketDescriptor.wireName, field: "offset8", offset: 2, needed: bytes.count, available: start)
        }
        let payload = Array(bytes[start...])
        if d.type == .completion && payload.count >= VSPResponse.wireSize {
            let resp = try VSPResponse.decode(Array(payload[0..<VSPResponse.wireSize]))
            out += zip(VSPResponse.fields, resp.fieldValues).map { f, v in
                (WireField("response." + f.name, start + f.offset, f.size), v)
            }
            if payload.count > VSPResponse.wireSize {
                out.append((WireField("(padding)", start + VSPResponse.wireSize, payload.count - VSPResponse.wireSize),
                            Hex.encode(Array(payload[VSPResponse.wireSize...]))))
            }
        } else if d.type == .completion {
            throw WireError(.truncated, structure: VSPResponse.wireName, field: "payload", offset: start,
                            needed: VSPResponse.wireSize, available: payload.count)
        } else {
            out.append((WireField("payload", start, payload.count), Hex.encode(payload)))
        }
        return ("\(d.type) packet (\(bytes.count) bytes)", out)
    }
}
