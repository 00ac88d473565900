"""What an H.264 packet holds, read from its bytes: the facts `io.SelectiveVideo` needs before it may skip work.

A container's keyframe flag says "a player may start here", which covers recovery points (open-GOP I-frames,
intra-refresh P-frames) and whatever a muxer chose to flag; only the bitstream says whether a picture is an IDR
(H.264 §3, "IDR picture"; §8.2.5.1: decoding one marks every earlier reference picture unused, so no later
picture can refer to anything before it). So this module reads NAL unit headers and sequence parameter sets (§7.3.1,
§7.3.2.1.1, Annex E), never a macroblock: a few microseconds a packet. Anything it does not recognise raises
`Unsure`; the caller then decodes sequentially instead of guessing.

Packets come in one of two layouts: length-prefixed NAL units ("AVCC": MP4, MKV, FLV; the prefix size is in the
avcC extradata, ISO/IEC 14496-15 §5.3.3.1) or start codes ("Annex B": MPEG-TS, raw .h264, some MKV/AVI).
"""
from collections import namedtuple

NON_IDR_SLICE, IDR_SLICE, SEI, SPS, PPS = 1, 5, 6, 7, 8
#: NAL types a picture's packet may carry besides its slices, none of which the decoder turns into a picture:
#: SEI, SPS, PPS, access-unit delimiter, end of sequence / stream, filler, SPS extension (§7.4.1, Table 7-1)
HARMLESS_NAL_TYPES = frozenset({SEI, SPS, PPS, 9, 10, 11, 12, 13})
#: profiles whose SPS carries chroma format, bit depths and scaling lists (§7.3.2.1.1)
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})

Packet = namedtuple("Packet", "idr pictures sps")
Packet.__doc__ = """One packet's NAL units: `idr` (its slices are IDR slices), `pictures` (how many pictures
start in it: slices with first_mb_in_slice = 0), `sps` (the SPS NAL units it carries, as bytes)."""

SequenceParameters = namedtuple("SequenceParameters", "sps_id frame_mbs_only max_num_reorder_frames "
                                                      "restriction_bit")
SequenceParameters.__doc__ = """The SPS fields that decide how frames come out of a decoder.

`frame_mbs_only`: 0 allows field pictures, one frame from two packets. `max_num_reorder_frames`: the output
delay the stream declares (VUI bitstream restriction), None when absent (FFmpeg then guesses it while decoding,
and the guess depends on which frames were decoded). `restriction_bit`: where bitstream_restriction_flag sits in
the RBSP (None without VUI), for tests that remove the declaration."""


class Unsure(ValueError):
    """The bytes do not follow a layout this module knows; nothing may be concluded from them."""


def length_size(extradata):
    """4, 2 or 1 for length-prefixed packets (avcC extradata: version 1, the size in the low bits of byte 4),
    0 for Annex-B start codes (no extradata, or extradata that is itself Annex-B)."""
    extradata = bytes(extradata or b"")
    if not extradata or extradata.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01")):
        return 0
    if extradata[0] != 1 or len(extradata) < 7:
        raise Unsure("extradata is neither avcC (version 1) nor Annex B")
    size = (extradata[4] & 3) + 1
    if size == 3:
        raise Unsure("avcC declares 3-byte NAL lengths, which 14496-15 does not allow")
    return size


def extradata_sps(extradata):
    """The SPS NAL units stored in avcC or Annex-B extradata, as bytes."""
    extradata = bytes(extradata or b"")
    if length_size(extradata) == 0:
        return [extradata[start:end] for start, end in _annexb_units(extradata) if extradata[start] & 31 == SPS]
    count, pos, found = extradata[5] & 31, 6, []
    for _ in range(count):
        if pos + 2 > len(extradata):
            raise Unsure("avcC ends inside its SPS list")
        size = int.from_bytes(extradata[pos:pos + 2], "big")
        if not size or pos + 2 + size > len(extradata):
            raise Unsure("avcC has an SPS of impossible length")
        found.append(extradata[pos + 2:pos + 2 + size])
        pos += 2 + size
    return found


def _annexb_units(data):
    start = data.find(b"\x00\x00\x01")
    if start < 0 or data[:start].strip(b"\x00"):
        raise Unsure("the packet does not begin with a start code")
    start += 3
    while start < len(data):
        next_code = data.find(b"\x00\x00\x01", start)
        end = len(data) if next_code < 0 else next_code
        stop = end
        while stop > start and data[stop - 1] == 0:  # trailing zero bytes belong to the next start code
            stop -= 1
        if stop > start:
            yield start, stop
        if next_code < 0:
            break
        start = next_code + 3


def read_packet(data, size):
    """`Packet` of one packet's bytes, with NAL length prefixes of `size` bytes (0: Annex-B start codes).

    Raises `Unsure` for a malformed layout, a forbidden_zero_bit set, IDR and non-IDR slices in one packet,
    or a NAL type that is neither a slice (1, 5) nor `HARMLESS_NAL_TYPES`: data partitions (2-4), SVC / MVC
    extensions (14, 15, 20), auxiliary pictures (19) and reserved types are not numbered safely here."""
    data = bytes(data) if size == 0 else memoryview(data)  # (a view: no copy of the slice data)
    idr = non_idr = pictures = 0
    sps = []
    units = _annexb_units(data) if size == 0 else _avcc_units(data, size)
    for start, end in units:
        header = data[start]
        kind = header & 31
        if kind == NON_IDR_SLICE or kind == IDR_SLICE:
            if header & 0x80 or end - start < 2:
                raise Unsure("a slice NAL unit is malformed (forbidden_zero_bit set, or no header)")
            if kind == IDR_SLICE:
                idr += 1
            else:
                non_idr += 1
            pictures += data[start + 1] >> 7  # ue(v) first_mb_in_slice is 0 exactly when its first bit is 1
        elif header & 0x80:
            raise Unsure("a NAL unit has its forbidden_zero_bit set")
        elif kind == SPS:
            sps.append(bytes(data[start:end]))
        elif kind not in HARMLESS_NAL_TYPES:
            raise Unsure(f"NAL unit type {kind} is not handled")
    if idr and non_idr:
        raise Unsure("IDR and non-IDR slices in one packet")
    return Packet(idr > 0, pictures, sps)


def _avcc_units(data, size):
    """(start, end) of each NAL unit after its `size`-byte length prefix; the prefixes must tile the packet."""
    units, pos, total = [], 0, len(data)
    while pos < total:
        start = pos + size
        length = int.from_bytes(data[pos:start], "big")
        pos = start + length
        if start > total:
            raise Unsure("a NAL length prefix runs past the packet")
        if not length or pos > total:
            raise Unsure("a NAL unit's length does not fit the packet")
        units.append((start, pos))
    return units


class _Bits:
    """An RBSP read bit by bit (emulation-prevention bytes removed), for the few ue(v) fields of an SPS."""

    def __init__(self, nal):
        rbsp = bytes(nal[1:]).replace(b"\x00\x00\x03", b"\x00\x00")
        self.value, self.size, self.pos = int.from_bytes(rbsp, "big"), 8 * len(rbsp), 0

    def u(self, count):
        if self.pos + count > self.size:
            raise Unsure("the SPS ends early")
        self.pos += count
        return (self.value >> (self.size - self.pos)) & ((1 << count) - 1)

    def ue(self):
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise Unsure("an SPS field is not valid Exp-Golomb")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self):
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def _skip_scaling_list(bits, size):
    last = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last + bits.se() + 256) % 256
        last = next_scale or last


def _skip_hrd(bits):
    count = bits.ue() + 1
    bits.u(8)  # bit_rate_scale, cpb_size_scale
    for _ in range(count):
        bits.ue(), bits.ue(), bits.u(1)
    bits.u(20)  # four 5-bit delay lengths


def sequence_parameters(nal):
    """`SequenceParameters` of one SPS NAL unit (header byte included)."""
    if not nal or nal[0] & 31 != SPS:
        raise Unsure("not an SPS NAL unit")
    bits = _Bits(nal)
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    sps_id = bits.ue()
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            bits.u(1)  # separate_colour_plane_flag
        bits.ue(), bits.ue(), bits.u(1)  # bit depths, transform bypass
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1), bits.se(), bits.se()
        for _ in range(bits.ue()):
            bits.se()
    elif poc_type != 2:
        raise Unsure(f"pic_order_cnt_type {poc_type} does not exist")
    bits.ue(), bits.u(1), bits.ue(), bits.ue()  # max refs, gaps allowed, width, height
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    if bits.u(1):  # frame cropping
        bits.ue(), bits.ue(), bits.ue(), bits.ue()
    reorder = restriction_bit = None
    if bits.u(1):  # vui_parameters_present_flag
        if bits.u(1) and bits.u(8) == 255:  # aspect ratio: extended SAR
            bits.u(32)
        if bits.u(1):  # overscan
            bits.u(1)
        if bits.u(1):  # video signal type
            bits.u(4)
            if bits.u(1):
                bits.u(24)
        if bits.u(1):  # chroma location
            bits.ue(), bits.ue()
        if bits.u(1):  # timing
            bits.u(65)
        nal_hrd = bits.u(1)
        if nal_hrd:
            _skip_hrd(bits)
        vcl_hrd = bits.u(1)
        if vcl_hrd:
            _skip_hrd(bits)
        if nal_hrd or vcl_hrd:
            bits.u(1)  # low_delay_hrd_flag
        bits.u(1)  # pic_struct_present_flag
        restriction_bit = bits.pos
        if bits.u(1):
            bits.u(1), bits.ue(), bits.ue(), bits.ue(), bits.ue()
            reorder = bits.ue()
            bits.ue()  # max_dec_frame_buffering
    return SequenceParameters(sps_id, frame_mbs_only, reorder, restriction_bit)
