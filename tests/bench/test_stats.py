from django.test import SimpleTestCase

from bench.stats import (
    cpu_ceiling,
    cpu_ms_per_action,
    ideal_rate,
    percentile,
    ratio,
    ratio_to_ideal,
    settle_lags,
    summarize,
)


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


class CpuTests(SimpleTestCase):
    def test_cpu_ms_per_action_divides_by_successful_actions(self):
        self.assertEqual(cpu_ms_per_action(3.0, 600), 5.0)
        self.assertEqual(cpu_ms_per_action(1.0, 3), 333.33)
        self.assertIsNone(cpu_ms_per_action(3.0, 0))
        self.assertIsNone(cpu_ms_per_action(None, 10))

    def test_cpu_ceiling_sums_the_cost_of_every_process(self):
        # 2 cores, 6 ms portal + 4 ms sandbox per action: 2000 ms / 10 ms.
        self.assertEqual(cpu_ceiling(cores=2, cpu_ms_per_action=[6, 4]), 200)
        self.assertEqual(cpu_ceiling(cores=4, cpu_ms_per_action=[10]), 400)

    def test_cpu_ceiling_undefined_without_a_cost(self):
        self.assertIsNone(cpu_ceiling(cores=2, cpu_ms_per_action=[6, None]))
        self.assertIsNone(cpu_ceiling(cores=2, cpu_ms_per_action=[0, 0]))
        self.assertIsNone(cpu_ceiling(cores=2, cpu_ms_per_action=[]))


class RatioToIdealTests(SimpleTestCase):
    def test_cpu_bound_box_is_measured_against_the_cpu_ceiling(self):
        # 32 slots / 0.1 s = 320/s of I/O, but 2 cores / 25 ms = 80/s of CPU.
        io = ideal_rate(users=50, slots=32, call_seconds=0.1)
        cpu = cpu_ceiling(cores=2, cpu_ms_per_action=[14, 11])
        self.assertEqual(ratio_to_ideal(68, io_ideal=io, cpu_ceiling=cpu), (0.85, "cpu"))

    def test_io_bound_when_the_cpus_allow_more(self):
        self.assertEqual(ratio_to_ideal(90, io_ideal=100, cpu_ceiling=400), (0.9, "io"))

    def test_an_unmeasured_ceiling_is_left_out(self):
        self.assertEqual(ratio_to_ideal(40, io_ideal=None, cpu_ceiling=80), (0.5, "cpu"))
        self.assertEqual(ratio_to_ideal(40, io_ideal=100, cpu_ceiling=None), (0.4, "io"))
        self.assertEqual(ratio_to_ideal(40, io_ideal=None, cpu_ceiling=None), (None, None))


class SettleLagTests(SimpleTestCase):
    def test_settled_actions_count_from_answer_to_settled(self):
        lags = settle_lags([(100.0, 100.4), (101.0, 101.2)], now=200.0)
        self.assertEqual((lags["settled"], lags["unsettled"]), (2, 0))
        self.assertEqual((lags["min"], lags["max"]), (200.0, 400.0))

    def test_an_unsettled_action_counts_up_to_now_so_it_raises_the_tail(self):
        lags = settle_lags([(100.0, 100.4), (100.0, 100.3), (100.0, None)], now=103.0)
        self.assertEqual((lags["settled"], lags["unsettled"]), (2, 1))
        self.assertEqual(lags["max"], 3000.0)
        self.assertGreater(lags["p99"], 2900.0)

    def test_no_actions_leave_the_percentiles_unmeasured(self):
        lags = settle_lags([], now=1.0)
        self.assertIsNone(lags["p99"])
        self.assertEqual(lags["n"], 0)
