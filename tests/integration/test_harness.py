"""The checkers the other tests rely on must themselves fail on bad input:
the PNG decoder, the Prometheus text-format parser, the raw HTTP reader.
(No server needed.)"""
import struct
import unittest
import zlib

import harness as H


def chunk(ctype, body):
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png(w=3, h=2, raw=None, color=2, ihdr=None):
    ihdr = ihdr or struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    if raw is None:
        raw = b"".join(b"\x00" + b"\x10\x20\x30" * w for _ in range(h))
    return H.PNG_SIG + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class PngChecker(unittest.TestCase):
    def test_accepts_a_valid_png(self):
        self.assertEqual(H.decode_png(png()), (3, 2))

    def test_rejects(self):
        good = png()
        bad = {
            "signature": b"\x89PNX" + good[4:],
            "flipped byte (CRC)": good[:40] + bytes([good[40] ^ 1]) + good[41:],
            "truncated": good[:-5],
            "trailing bytes": good + b"x",
            "no IEND": good[:-12],
            "zero width": png(ihdr=struct.pack(">IIBBBBB", 0, 2, 8, 2, 0, 0, 0)),
            "short IDAT": png(raw=b"\x00" * 5),
            "bad filter": png(raw=b"\x07" + b"\x00" * 9 + b"\x00" * 10),
            "empty": b"",
            "html": b"<html>not a png</html>",
        }
        for name, data in bad.items():
            with self.subTest(name):
                with self.assertRaises(AssertionError):
                    H.decode_png(data)


GOOD_METRICS = """# HELP vigil_events_total Events judged.
# TYPE vigil_events_total counter
vigil_events_total 5
# HELP vigil_checks_total Checks.
# TYPE vigil_checks_total counter
vigil_checks_total{k="1",result="ok"} 4
vigil_checks_total{k="1",result="a \\"q\\" \\\\ \\n"} 1e3
# HELP d Duration.
# TYPE d histogram
d_bucket{le="0.1"} 1
d_bucket{le="+Inf"} 2
d_sum 0.5
d_count 2
# a comment
x_gauge NaN
y -Inf 1700000000000
"""


class PrometheusChecker(unittest.TestCase):
    def test_accepts_valid_text(self):
        m = H.parse_prometheus(GOOD_METRICS)
        self.assertEqual(H.sample(m, "vigil_events_total"), 5)
        self.assertEqual(H.sample(m, "vigil_checks_total", k="1", result="ok"), 4)
        self.assertEqual(H.family_of("d_bucket", m["types"]), "d")

    def test_rejects(self):
        bad = {
            "no newline at end": "a 1",
            "no value": "a\n",
            "value not a number": "a one\n",
            "bad name": "1a 1\n",
            "unquoted label": "a{k=1} 1\n",
            "unterminated label": 'a{k="1} 1\n',
            "bad escape": 'a{k="\\x"} 1\n',
            "two spaces": "a  1\n",
            "unknown type": "# TYPE a countr\na 1\n",
            "TYPE after samples": "a 1\n# TYPE a counter\n",
            "two TYPE lines": "# TYPE a counter\n# TYPE a counter\na 1\n",
            "malformed HELP": "# HELP\na 1\n",
        }
        for name, text in bad.items():
            with self.subTest(name):
                with self.assertRaises(AssertionError):
                    H.parse_prometheus(text)

    def test_sample_lookup_is_exact(self):
        m = H.parse_prometheus(GOOD_METRICS)
        with self.assertRaises(AssertionError):
            H.sample(m, "vigil_checks_total", k="1")


class RawResponse(unittest.TestCase):
    def test_parse(self):
        self.assertIsNone(H.parse_raw_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"))
        st, hdrs, body = H.parse_raw_response(b"HTTP/1.1 411 X\r\nContent-Length: 2\r\n\r\nabcd")
        self.assertEqual((st, body), (411, b"ab"))
        with self.assertRaises(AssertionError):
            H.parse_raw_response(b"garbage\r\n\r\n")


if __name__ == "__main__":
    unittest.main()
