from django.test import SimpleTestCase

from bench.stats import ideal_rate, percentile, ratio, summarize


class PercentileTests(SimpleTestCase):
    def test_matches_linear_interpolation(self):
        values = [15, 20, 35, 40, 50]
        for q, expected in [(0, 15), (25, 20), (40, 29), (50, 35), (100, 50)]:
            with self.subTest(q=q):
                self.assertAlmostEqual(percentile(values, q), expected)

    def test_order_of_input_does_not_matter(self):
        self.assertEqual(percentile([3, 1, 2], 50), 2)

    def test_single_value_and_empty(self):
        self.assertEqual(percentile([7.5], 99), 7.5)
        self.assertIsNone(percentile([], 50))

    def test_rejects_out_of_range_q(self):
        with self.assertRaises(ValueError):
            percentile([1, 2], 101)


class SummarizeTests(SimpleTestCase):
    def test_p99_of_a_hundred_values(self):
        summary = summarize(range(1, 101))
        self.assertEqual(summary["n"], 100)
        self.assertEqual(summary["p50"], 50.5)
        self.assertEqual(summary["p99"], 99.01)
        self.assertEqual(summary["max"], 100)

    def test_empty(self):
        self.assertEqual(summarize([])["n"], 0)
        self.assertIsNone(summarize([])["p50"])


class RatioTests(SimpleTestCase):
    def test_ratio_and_undefined_cases(self):
        self.assertEqual(ratio(115, 100), 1.15)
        self.assertIsNone(ratio(None, 100))
        self.assertIsNone(ratio(1, 0))

    def test_ideal_rate_is_capped_by_slots_and_users(self):
        self.assertEqual(ideal_rate(users=50, slots=32, call_seconds=0.1), 320)
        self.assertEqual(ideal_rate(users=10, slots=32, call_seconds=0.1), 100)
        self.assertIsNone(ideal_rate(users=50, slots=32, call_seconds=0))
