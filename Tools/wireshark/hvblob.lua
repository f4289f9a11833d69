-- SPDX-License-Identifier: Apache-2.0
--
-- Wireshark dissector for hvblob capture records: pcapng link type 147 (LINKTYPE_USER0), one
-- record per ring packet, host write, ioctl or lifecycle step of the Azure Blob VMBus fast path.
-- The layouts are hvblob's (Sources/HVBlob/Capture/CaptureRecord.swift) and Linux's
-- (vmpacket_descriptor, vmbus_packet_mpb_array, az_blob_vsp_request/response,
-- az_blob_request_sync).
--
--   tshark -X lua_script:Tools/wireshark/hvblob.lua -r Fixtures/captures/plain.pcapng -V
--   wireshark -X lua_script:Tools/wireshark/hvblob.lua capture.pcapng

local p = Proto("hvblob", "hvblob VMBus Azure Blob capture record")

local kinds = {
	[1] = "ring packet", [2] = "ioctl call", [3] = "ioctl return", [4] = "host write",
	[5] = "rescind", [6] = "channel open", [7] = "channel close", [8] = "guest read",
	[9] = "release", [10] = "remove", [11] = "guest data", [12] = "ring state",
}
local directions = { [0] = "guest->host", [1] = "host->guest", [0xff] = "none" }
local packet_types = {
	[6] = "VM_PKT_DATA_INBAND", [7] = "VM_PKT_DATA_USING_XFER_PAGES",
	[8] = "VM_PKT_DATA_USING_GPADL", [9] = "VM_PKT_DATA_USING_GPA_DIRECT",
	[10] = "VM_PKT_CANCEL_REQUEST", [11] = "VM_PKT_COMP", [12] = "VM_PKT_DATA_USING_ADDITIONAL_PKT",
	[13] = "VM_PKT_ADDITIONAL_DATA",
}

local f = p.fields
f.version = ProtoField.uint8("hvblob.version", "Record version")
f.kind = ProtoField.uint8("hvblob.kind", "Kind", base.DEC, kinds)
f.direction = ProtoField.uint8("hvblob.direction", "Direction", base.HEX, directions)
f.flags = ProtoField.uint8("hvblob.flags", "Flags", base.HEX)
f.channel = ProtoField.uint32("hvblob.channel", "Channel (relid)")
f.ring_before = ProtoField.uint32("hvblob.ring_before", "Ring index before")
f.ring_after = ProtoField.uint32("hvblob.ring_after", "Ring index after")
f.pid = ProtoField.uint32("hvblob.pid", "Process")
f.body_len = ProtoField.uint32("hvblob.body_len", "Body length")

f.desc_type = ProtoField.uint16("hvblob.desc.type", "type", base.DEC, packet_types)
f.desc_offset8 = ProtoField.uint16("hvblob.desc.offset8", "offset8 (dataoffset8)")
f.desc_len8 = ProtoField.uint16("hvblob.desc.len8", "len8 (length8)")
f.desc_flags = ProtoField.uint16("hvblob.desc.flags", "flags", base.HEX)
f.desc_trans_id = ProtoField.uint64("hvblob.desc.trans_id", "trans_id (request id)")

f.mpb_reserved = ProtoField.uint32("hvblob.mpb.reserved", "reserved")
f.mpb_rangecount = ProtoField.uint32("hvblob.mpb.rangecount", "rangecount")
f.mpb_range_len = ProtoField.uint32("hvblob.mpb.range_len", "range.len")
f.mpb_range_offset = ProtoField.uint32("hvblob.mpb.range_offset", "range.offset")
f.mpb_pfn_count = ProtoField.uint32("hvblob.mpb.pfn_count", "PFNs")
f.mpb_pfn = ProtoField.uint64("hvblob.mpb.pfn", "pfn_array[]", base.HEX)

f.req_version = ProtoField.uint32("hvblob.vsp.version", "version")
f.req_timeout = ProtoField.uint32("hvblob.vsp.timeout_ms", "timeout_ms")
f.req_data_offset = ProtoField.uint32("hvblob.vsp.data_buffer_offset", "data_buffer_offset")
f.req_data_length = ProtoField.uint32("hvblob.vsp.data_buffer_length", "data_buffer_length")
f.req_data_valid = ProtoField.uint32("hvblob.vsp.data_buffer_valid", "data_buffer_valid")
f.req_operation = ProtoField.uint32("hvblob.vsp.operation_type", "operation_type")
f.req_request_offset = ProtoField.uint32("hvblob.vsp.request_buffer_offset", "request_buffer_offset")
f.req_request_length = ProtoField.uint32("hvblob.vsp.request_buffer_length", "request_buffer_length")
f.req_response_offset = ProtoField.uint32("hvblob.vsp.response_buffer_offset", "response_buffer_offset")
f.req_response_length = ProtoField.uint32("hvblob.vsp.response_buffer_length", "response_buffer_length")
f.req_transaction = ProtoField.guid("hvblob.vsp.transaction_id", "transaction_id")

f.resp_length = ProtoField.uint32("hvblob.resp.length", "length")
f.resp_error = ProtoField.uint32("hvblob.resp.error", "error", base.HEX)
f.resp_response_len = ProtoField.uint32("hvblob.resp.response_len", "response_len")
f.payload = ProtoField.bytes("hvblob.payload", "Payload")

f.ioctl_cmd = ProtoField.uint32("hvblob.ioctl.cmd", "cmd", base.HEX)
f.ioctl_arg = ProtoField.uint64("hvblob.ioctl.arg", "argument", base.HEX)
f.sync_guid = ProtoField.guid("hvblob.sync.guid", "guid")
f.sync_timeout = ProtoField.uint32("hvblob.sync.timeout", "timeout")
f.sync_request_len = ProtoField.uint32("hvblob.sync.request_len", "request_len")
f.sync_response_len = ProtoField.uint32("hvblob.sync.response_len", "response_len")
f.sync_data_len = ProtoField.uint32("hvblob.sync.data_len", "data_len")
f.sync_data_valid = ProtoField.uint32("hvblob.sync.data_valid", "data_valid")
f.sync_request_buffer = ProtoField.uint64("hvblob.sync.request_buffer", "request_buffer", base.HEX)
f.sync_response_buffer = ProtoField.uint64("hvblob.sync.response_buffer", "response_buffer", base.HEX)
f.sync_data_buffer = ProtoField.uint64("hvblob.sync.data_buffer", "data_buffer", base.HEX)
f.sync_status = ProtoField.uint32("hvblob.sync.response.status", "response.status")
f.sync_response_response_len = ProtoField.uint32("hvblob.sync.response.response_len", "response.response_len")
f.request_text = ProtoField.string("hvblob.request_text", "Request buffer")

f.ret = ProtoField.int32("hvblob.ioctl.ret", "Return value")
f.ret_status = ProtoField.uint32("hvblob.ioctl.status", "response.status")
f.ret_response_len = ProtoField.uint32("hvblob.ioctl.response_len", "response.response_len")

f.hw_pfn = ProtoField.uint64("hvblob.hostwrite.pfn", "PFN", base.HEX)
f.hw_offset = ProtoField.uint32("hvblob.hostwrite.offset", "Offset in page")
f.hw_length = ProtoField.uint32("hvblob.hostwrite.length", "Length")
f.ring_size = ProtoField.uint32("hvblob.open.ring_size", "Ring size")
f.rs_interrupt_mask = ProtoField.uint32("hvblob.ringstate.interrupt_mask", "interrupt_mask")
f.rs_pending_send_sz = ProtoField.uint32("hvblob.ringstate.pending_send_sz", "pending_send_sz")
f.hostile = ProtoField.bool("hvblob.flags.hostile", "Malformed on purpose (hostile guest)", 8, nil, 0x04)

local e_short = ProtoExpert.new("hvblob.short", "hvblob.short", expert.group.MALFORMED, expert.severity.ERROR)
p.experts = { e_short }

local function vsp_request(buf, tree)
	local t = tree:add(p, buf(0, 56), "az_blob_vsp_request")
	t:add_le(f.req_version, buf(0, 4))
	t:add_le(f.req_timeout, buf(4, 4))
	t:add_le(f.req_data_offset, buf(8, 4))
	t:add_le(f.req_data_length, buf(12, 4))
	t:add_le(f.req_data_valid, buf(16, 4))
	t:add_le(f.req_operation, buf(20, 4))
	t:add_le(f.req_request_offset, buf(24, 4))
	t:add_le(f.req_request_length, buf(28, 4))
	t:add_le(f.req_response_offset, buf(32, 4))
	t:add_le(f.req_response_length, buf(36, 4))
	t:add_le(f.req_transaction, buf(40, 16))
end

local function ring_packet(buf, tree, pinfo)
	local n = buf:len()
	local t = tree:add(p, buf(0, 16), "vmpacket_descriptor")
	local ptype = buf(0, 2):le_uint()
	local offset8 = buf(2, 2):le_uint()
	t:add_le(f.desc_type, buf(0, 2))
	t:add_le(f.desc_offset8, buf(2, 2))
	t:add_le(f.desc_len8, buf(4, 2))
	t:add_le(f.desc_flags, buf(6, 2))
	t:add_le(f.desc_trans_id, buf(8, 8))
	local id = buf(8, 8):le_uint64()
	if ptype == 9 and n >= 32 then
		local m = tree:add(p, buf(16, math.min(n, offset8 * 8) - 16), "MPB (vmbus_packet_mpb_array)")
		m:add_le(f.mpb_reserved, buf(16, 4))
		m:add_le(f.mpb_rangecount, buf(20, 4))
		m:add_le(f.mpb_range_len, buf(24, 4))
		m:add_le(f.mpb_range_offset, buf(28, 4))
		local count = math.max(0, offset8 - 4)
		m:add(f.mpb_pfn_count, count):set_generated()
		for i = 0, count - 1 do
			local at = 32 + 8 * i
			if at + 8 > n then
				m:add_proto_expert_info(e_short, "PFN array runs past the packet")
				break
			end
			m:add_le(f.mpb_pfn, buf(at, 8))
		end
		local d = offset8 * 8
		if d + 56 <= n then vsp_request(buf(d, 56), tree) end
		pinfo.cols.info:set(string.format("MPB request id %s, %d PFNs", tostring(id), count))
	elseif ptype == 11 then
		local d = offset8 * 8
		if d >= 16 and d + 12 <= n then
			local r = tree:add(p, buf(d, 12), "az_blob_vsp_response")
			r:add_le(f.resp_length, buf(d, 4))
			r:add_le(f.resp_error, buf(d + 4, 4))
			r:add_le(f.resp_response_len, buf(d + 8, 4))
			pinfo.cols.info:set(string.format("completion request id %s, error 0x%x, response_len %d",
				tostring(id), buf(d + 4, 4):le_uint(), buf(d + 8, 4):le_uint()))
		else
			tree:add_proto_expert_info(e_short, "completion too short for az_blob_vsp_response")
			pinfo.cols.info:set(string.format("short completion request id %s", tostring(id)))
		end
	else
		local d = math.min(n, math.max(16, offset8 * 8))
		if d < n then tree:add(f.payload, buf(d, n - d)) end
		pinfo.cols.info:set(string.format("%s request id %s", packet_types[ptype] or ("type " .. ptype), tostring(id)))
	end
end

local function ioctl_call(buf, tree, pinfo)
	tree:add_le(f.ioctl_cmd, buf(0, 4))
	tree:add_le(f.ioctl_arg, buf(8, 8))
	local s = tree:add(p, buf(16, 72), "az_blob_request_sync")
	s:add_le(f.sync_guid, buf(16, 16))
	s:add_le(f.sync_timeout, buf(32, 4))
	s:add_le(f.sync_request_len, buf(36, 4))
	s:add_le(f.sync_response_len, buf(40, 4))
	s:add_le(f.sync_data_len, buf(44, 4))
	s:add_le(f.sync_data_valid, buf(48, 4))
	s:add_le(f.sync_request_buffer, buf(56, 8))
	s:add_le(f.sync_response_buffer, buf(64, 8))
	s:add_le(f.sync_data_buffer, buf(72, 8))
	s:add_le(f.sync_status, buf(80, 4))
	s:add_le(f.sync_response_response_len, buf(84, 4))
	if buf:len() > 88 then tree:add(f.request_text, buf(88)) end
	pinfo.cols.info:set(string.format("ioctl request_len %d response_len %d data_len %d",
		buf(36, 4):le_uint(), buf(40, 4):le_uint(), buf(44, 4):le_uint()))
end

function p.dissector(tvb, pinfo, tree)
	pinfo.cols.protocol:set("hvblob")
	local n = tvb:len()
	local t = tree:add(p, tvb(), "hvblob record")
	if n < 24 then
		t:add_proto_expert_info(e_short, "record shorter than its 24-byte header")
		return
	end
	local kind = tvb(1, 1):uint()
	local dir = tvb(2, 1):uint()
	t:add(f.version, tvb(0, 1))
	t:add(f.kind, tvb(1, 1))
	t:add(f.direction, tvb(2, 1))
	local ft = t:add(f.flags, tvb(3, 1))
	ft:add(f.hostile, tvb(3, 1))
	t:add_le(f.channel, tvb(4, 4))
	t:add_le(f.ring_before, tvb(8, 4))
	t:add_le(f.ring_after, tvb(12, 4))
	t:add_le(f.pid, tvb(16, 4))
	t:add_le(f.body_len, tvb(20, 4))
	local pid = tvb(16, 4):le_uint()
	if kind == 2 or kind == 3 or kind == 9 then
		pinfo.cols.src:set("pid " .. pid)
		pinfo.cols.dst:set("driver")
	elseif dir == 1 or kind == 4 or kind == 5 then
		pinfo.cols.src:set("host")
		pinfo.cols.dst:set("guest")
	else
		pinfo.cols.src:set("guest")
		pinfo.cols.dst:set(dir == 0 and "host" or "-")
	end
	pinfo.cols.info:set(kinds[kind] or ("kind " .. kind))
	local body = n > 24 and tvb(24) or nil
	local bn = n - 24
	if kind == 1 and bn >= 16 then
		ring_packet(body, t, pinfo)
	elseif kind == 2 and bn >= 88 then
		ioctl_call(body, t, pinfo)
	elseif kind == 3 and bn == 12 then
		t:add_le(f.ret, body(0, 4))
		t:add_le(f.ret_status, body(4, 4))
		t:add_le(f.ret_response_len, body(8, 4))
		pinfo.cols.info:set(string.format("ioctl return %d, response_len %d", body(0, 4):le_int(), body(8, 4):le_uint()))
	elseif kind == 4 and bn >= 16 then
		t:add_le(f.hw_pfn, body(0, 8))
		t:add_le(f.hw_offset, body(8, 4))
		t:add_le(f.hw_length, body(12, 4))
		pinfo.cols.info:set(string.format("host write PFN 0x%x +%d, %d bytes", body(0, 8):le_uint64():tonumber(),
			body(8, 4):le_uint(), body(12, 4):le_uint()))
	elseif kind == 11 and bn >= 16 then
		t:add_le(f.hw_pfn, body(0, 8))
		t:add_le(f.hw_offset, body(8, 4))
		t:add_le(f.hw_length, body(12, 4))
		pinfo.cols.src:set("guest")
		pinfo.cols.dst:set("host")
		pinfo.cols.info:set(string.format("guest data PFN 0x%x +%d, %d bytes", body(0, 8):le_uint64():tonumber(),
			body(8, 4):le_uint(), body(12, 4):le_uint()))
	elseif kind == 12 and bn == 8 then
		t:add_le(f.rs_interrupt_mask, body(0, 4))
		t:add_le(f.rs_pending_send_sz, body(4, 4))
		pinfo.cols.src:set("guest")
		pinfo.cols.dst:set("-")
		pinfo.cols.info:set(string.format("ring state %s: interrupt_mask %d, pending_send_sz %d", directions[dir] or "?",
			body(0, 4):le_uint(), body(4, 4):le_uint()))
	elseif kind == 6 and bn == 4 then
		t:add_le(f.ring_size, body(0, 4))
	elseif body ~= nil and (kind == 1 or kind == 2 or kind == 3 or kind == 4 or kind == 6 or kind == 11 or kind == 12) then
		t:add_proto_expert_info(e_short, "body too short for its kind")
	end
end

local encap = (wtap_encaps and wtap_encaps.USER0) or wtap.USER0
DissectorTable.get("wtap_encap"):add(encap, p)
