"""tsnbook.h264 on hand-made packets: NAL layouts, what a packet holds, and the bytes it must refuse.

(Its SPS reader runs on x264's real parameter sets in tests/test_selective.py.)
"""
import pytest

from tsnbook import h264


def avcc(*nals, size=4):
    return b"".join(len(nal).to_bytes(size, "big") + nal for nal in nals)


IDR = bytes([0x65, 0x88, 0x84])     # nal_ref_idc 3, type 5; first_mb_in_slice = 0 (first bit 1)
P_FIRST = bytes([0x41, 0x9a, 0x02])  # type 1, first_mb_in_slice = 0
P_LATER = bytes([0x41, 0x02, 0x9a])  # type 1, first_mb_in_slice > 0 (a second slice of the same picture)
B_NONREF = bytes([0x01, 0x9e, 0x11])  # nal_ref_idc 0, type 1
SEI_NAL, AUD = bytes([0x06, 0x05, 0x01, 0x80]), bytes([0x09, 0xf0])


def test_packets_are_read_from_their_nal_headers():
    assert h264.read_packet(avcc(SEI_NAL, IDR), 4) == (True, 1, [])
    assert h264.read_packet(avcc(AUD, P_FIRST, P_LATER, P_LATER, size=2), 2) == (False, 1, [])
    assert h264.read_packet(avcc(B_NONREF, size=1), 1) == (False, 1, [])
    assert h264.read_packet(b"\x00\x00\x00\x01" + AUD + b"\x00\x00\x01" + IDR + b"\x00\x00", 0) == (True, 1, [])
    assert h264.read_packet(avcc(P_FIRST, P_FIRST), 4).pictures == 2  # two pictures in one packet
    assert h264.read_packet(avcc(SEI_NAL), 4).pictures == 0
    for data, size, why in [(avcc(IDR)[:-1], 4, "does not fit"), (avcc(IDR) + b"\x00", 4, "runs past"),
                            (avcc(IDR, P_LATER), 4, "IDR and non-IDR"), (avcc(bytes([0x74, 0x80])), 4, "type 20"),
                            (avcc(bytes([0x42, 0x80])), 4, "type 2"), (avcc(bytes([0xe5, 0x80])), 4, "forbidden"),
                            (IDR, 0, "start code"), (avcc(IDR), 0, "start code")]:
        with pytest.raises(h264.Unsure, match=why):
            h264.read_packet(data, size)


def test_nal_length_size_comes_from_avcc_extradata():
    sps = bytes([0x67, 0x64, 0x00, 0x0a])
    record = bytes([1, 0x64, 0x00, 0x0a, 0xfc | 3, 0xe1]) + len(sps).to_bytes(2, "big") + sps + b"\x01\x00\x00"
    assert h264.length_size(record) == 4 and h264.extradata_sps(record) == [sps]
    assert h264.length_size(record[:4] + bytes([0xfc | 1]) + record[5:]) == 2
    assert h264.length_size(b"") == 0 and h264.length_size(b"\x00\x00\x00\x01" + sps) == 0
    assert h264.extradata_sps(b"\x00\x00\x00\x01" + sps + b"\x00\x00\x01\x68\xee") == [sps]
    for bad, why in [(record[:4] + bytes([0xfc | 2]) + record[5:], "3-byte"), (b"\x02\x64\x00\x0a\xff\xe1\x00", "avcC"),
                     (record[:9], "impossible length")]:
        with pytest.raises(h264.Unsure, match=why):
            h264.extradata_sps(bad)


class BitWriter:
    """Writes an RBSP field by field (u(n), ue(v), se(v)) and wraps it as a NAL unit with emulation prevention:
    the writer's side of H.264 §7.2, to build parameter sets no encoder here produces."""

    def __init__(self):
        self.bits = []

    def u(self, count, value):
        self.bits += [(value >> (count - 1 - i)) & 1 for i in range(count)]

    def ue(self, value):
        code = value + 1
        self.bits += [0] * (code.bit_length() - 1)
        self.u(code.bit_length(), code)

    def se(self, value):
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def nal(self, header):
        bits = self.bits + [1] + [0] * (-(len(self.bits) + 1) % 8)  # rbsp_stop_one_bit, alignment
        escaped, zeros = bytearray([header]), 0
        for byte in int("".join(map(str, bits)), 2).to_bytes(len(bits) // 8, "big"):
            if zeros >= 2 and byte <= 3:
                escaped.append(3)
                zeros = 0
            escaped.append(byte)
            zeros = zeros + 1 if byte == 0 else 0
        return bytes(escaped)


def high_profile_sps(reorder=3):
    """An SPS using the branches x264 never writes: scaling lists (one ended early by a zero next_scale), POC
    type 1, fields with MBAFF, cropping, an extended SAR, colour description, NAL HRD with two CPBs."""
    w = BitWriter()
    w.u(8, 100), w.u(8, 0), w.u(8, 0), w.ue(2)  # High, no constraints, level 0 (zeros: emulation prevention)
    w.ue(1), w.ue(0), w.ue(0), w.u(1, 0)  # 4:2:0, 8 bits, no transform bypass
    w.u(1, 1)  # seq_scaling_matrix_present_flag
    for index in range(8):
        present = index in (0, 6)
        w.u(1, present)
        if present:
            deltas = [3] * 16 if index == 0 else [1] * 20 + [-28]  # 9, 10, ... 28, then next_scale 0: the end
            for delta in deltas:
                w.se(delta)
    w.ue(0), w.ue(1)  # log2_max_frame_num - 4, pic_order_cnt_type 1
    w.u(1, 0), w.se(-2), w.se(1), w.ue(2), w.se(4), w.se(-4)
    w.ue(4), w.u(1, 0), w.ue(21), w.ue(17)  # refs, gaps, width and height in macroblocks
    w.u(1, 0), w.u(1, 1), w.u(1, 1)  # frame_mbs_only 0, mb_adaptive_frame_field 1, direct_8x8_inference
    w.u(1, 1), w.ue(0), w.ue(4), w.ue(0), w.ue(2)  # cropping
    w.u(1, 1)  # vui_parameters_present_flag
    w.u(1, 1), w.u(8, 255), w.u(16, 64), w.u(16, 45)  # extended SAR
    w.u(1, 1), w.u(1, 0)  # overscan
    w.u(1, 1), w.u(3, 5), w.u(1, 0), w.u(1, 1), w.u(8, 1), w.u(8, 1), w.u(8, 1)  # signal type, colours
    w.u(1, 1), w.ue(0), w.ue(0)  # chroma location
    w.u(1, 1), w.u(32, 1), w.u(32, 50), w.u(1, 1)  # timing: 31 zero bits in a row
    w.u(1, 1), w.ue(1), w.u(4, 0), w.u(4, 3)  # NAL HRD, two CPBs
    for _ in range(2):
        w.ue(2999), w.ue(9999), w.u(1, 0)
    w.u(5, 23), w.u(5, 23), w.u(5, 23), w.u(5, 24)
    w.u(1, 0), w.u(1, 0), w.u(1, 1)  # no VCL HRD; low_delay_hrd_flag; pic_struct_present_flag
    restriction_bit = len(w.bits)
    w.u(1, 1), w.u(1, 1), w.ue(2), w.ue(1), w.ue(16), w.ue(16), w.ue(reorder), w.ue(4)
    return w.nal(0x67), restriction_bit


def test_sequence_parameters_through_every_branch_of_the_sps():
    nal, restriction_bit = high_profile_sps(reorder=3)
    assert b"\x00\x00\x03" in nal  # the RBSP needed emulation prevention
    assert h264.sequence_parameters(nal) == (2, 0, 3, restriction_bit)
    with pytest.raises(h264.Unsure, match="ends early"):
        h264.sequence_parameters(nal[:-3])
