import contextlib
import io

from django.test import SimpleTestCase

from bench import config, report


class TableTests(SimpleTestCase):
    def test_a_scenario_that_did_not_run_says_why(self):
        text = report.table({"throughput": {"status": "not run: action_url missing"}})
        self.assertIn("not run: action_url missing", text)

    def test_goals_are_shown_as_holds_or_fails(self):
        results = {
            "refresh_storm": {
                "portal_processes": 4,
                "concurrent_requests": 50,
                "refresh_requests_per_round": [1, 2],
                "failed_requests": 0,
                "rounds": [{"worker_pids_serving": 4}, {"worker_pids_serving": 3}],
                "goals": {
                    "refresh_requests == 1 (every round)": False,
                    "failed_requests == 0": True,
                },
            }
        }
        text = report.table(results)
        self.assertIn("FAILS", text)
        self.assertIn("holds", text)
        self.assertIn("[1, 2]", text)


def _row(text, figure):
    """Return the table line whose figure column starts with `figure`."""
    for line in text.splitlines():
        cells = line.split(None, 1)  # scenario, then the rest of the row
        if len(cells) == 2 and cells[1].startswith(figure):
            return line
    raise AssertionError(f"no row {figure!r} in:\n{text}")


def _throughput(**figures):
    data = {
        "users": 50,
        "actions_per_s": 68.0,
        "io_ideal_per_s": 320.0,
        "cpu_ceiling_per_s": 80.0,
        "ideal_bound": "cpu",
        "ratio_to_ideal": 0.85,
        "errors": 0,
        "portal_cpu_ms_per_action": 5.5,
        "sandbox_cpu_ms_per_action": 11.2,
        "cpu_utilisation_of_all_cores": 0.93,
        "unloaded_call_ms": {"p50": 100.0},
        "loaded_call_ms": {"p50": 400.0, "p95": 700.0, "p99": 900.0},
        "goals": {
            "errors == 0": True,
            "ratio_to_ideal >= 0.8": True,
            "portal_cpu_ms_per_action <= 6": True,
        },
    }
    data.update(figures)
    return {"throughput": data}


class NewFiguresTests(SimpleTestCase):
    def test_sql_queries_per_action_is_shown_with_its_goal(self):
        text = report.table(
            {
                "overhead": {
                    "sql_queries_per_action": 9,
                    "goals": {"sql_queries_per_action <= 7": False},
                }
            }
        )
        row = _row(text, "sql_queries_per_action")
        self.assertIn(" 9 ", row)
        self.assertTrue(row.rstrip().endswith("<= 7"))
        self.assertIn("FAILS", _row(text, "GOAL sql_queries_per_action <= 7"))

    def test_sql_queries_per_action_unmeasured_shows_a_dash(self):
        text = report.table(
            {
                "overhead": {
                    "sql_queries_per_action": None,
                    "goals": {"sql_queries_per_action <= 7": None},
                }
            }
        )
        self.assertIn(" - ", _row(text, "sql_queries_per_action"))
        self.assertTrue(_row(text, "GOAL sql_queries_per_action <= 7").endswith("-"))

    def test_throughput_shows_cpu_per_action_both_ceilings_and_the_bound(self):
        text = report.table(_throughput())
        self.assertTrue(_row(text, "portal_cpu_ms_per_action").endswith("<= 6"))
        self.assertIn("5.5", _row(text, "portal_cpu_ms_per_action"))
        self.assertIn("11.2", _row(text, "sandbox_cpu_ms_per_action"))
        self.assertIn("320.0", _row(text, "io_ideal_per_s"))
        self.assertIn("80.0", _row(text, "cpu_ceiling_per_s"))
        ratio_row = _row(text, "ratio_to_ideal (bound: cpu)")
        self.assertIn("0.85", ratio_row)
        self.assertTrue(ratio_row.endswith(">= 0.8"))
        for goal in ("ratio_to_ideal >= 0.8", "portal_cpu_ms_per_action <= 6"):
            with self.subTest(goal=goal):
                self.assertTrue(_row(text, f"GOAL {goal}").endswith("holds"))

    def test_failed_cpu_goal_is_shown(self):
        text = report.table(
            _throughput(
                portal_cpu_ms_per_action=14.2,
                goals={"portal_cpu_ms_per_action <= 6": False},
            )
        )
        self.assertIn("14.2", _row(text, "portal_cpu_ms_per_action"))
        self.assertTrue(_row(text, "GOAL portal_cpu_ms_per_action <= 6").endswith("FAILS"))


class SettingsTests(SimpleTestCase):
    def test_quick_and_scenario_selection(self):
        settings = config.parse(["--quick", "--scenarios", "overhead,refresh-storm"])
        self.assertEqual(settings.scenarios, ["overhead", "refresh_storm"])
        self.assertEqual(settings.overhead_iterations, config.QUICK["overhead_iterations"])

    def test_unknown_scenario_is_refused(self):
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
            config.parse(["--scenarios", "nonsense"])
        self.assertIn("unknown scenario(s): nonsense", err.getvalue())


class ConfirmReportTests(SimpleTestCase):
    def test_confirm_shows_its_ratios_counts_and_goals(self):
        results = {
            "confirm": {
                "actions": 48,
                "users": 2,
                "faults": {"effect_delay_ms": 300, "effect_reject_rate": 0.1},
                "confirmed_ms": {"p50": 690.0, "p95": 730.0, "p99": 740.0},
                "post_ms": {"p50": 115.0},
                "accepted_to_resolved_ms": {"p50": 394.0},
                "poll_ms": {"p50": 15.0},
                "not_applied_ms": {"p50": 3445.0},
                "p50_ratio_to_delay": 2.3,
                "p99_ratio_to_delay": 2.47,
                "wrong_outcomes": 0,
                "unresolved": 0,
                "confirmed": 43,
                "not_applied": 5,
                "unknown": 0,
                "refused": 0,
                "never_settled": 0,
                "goals": {
                    "p50_ratio_to_delay <= 2.0": False,
                    "wrong_outcomes == 0": True,
                    "unresolved == 0": True,
                },
            }
        }
        text = report.table(results)
        self.assertIn("48 x 2 (300 ms, 0.1)", text)
        row = _row(text, "p50_ratio_to_delay")
        self.assertIn("2.3", row)
        self.assertTrue(row.endswith("<= 2.0"))
        self.assertTrue(_row(text, "not_applied").endswith(" 5"))
        self.assertTrue(_row(text, "GOAL p50_ratio_to_delay <= 2.0").endswith("FAILS"))
        self.assertTrue(_row(text, "GOAL wrong_outcomes == 0").endswith("holds"))

    def test_overhead_has_no_matched_rows(self):
        summary = {"p50": 100.0, "p95": 120.0, "p99": 130.0}
        results = {
            "overhead": {
                "50ms": {
                    "direct": summary,
                    "portal": summary,
                    "canvas_requests_per_portal_action_with_confirmation": 3.0,
                },
                "p50_ratio_50ms": 1.2,
                "goals": {},
            }
        }
        text = report.table(results)
        self.assertNotIn("matched", text)
        self.assertTrue(_row(text, "50ms Canvas requests per portal action").endswith(" 3"))
        self.assertTrue(_row(text, "p50_ratio_50ms").endswith("<= 1.15"))


class ConfirmSettingsTests(SimpleTestCase):
    def test_confirm_is_a_scenario_with_quick_and_flag_sizes(self):
        self.assertIn("confirm", config.SCENARIOS)
        self.assertEqual(
            config.parse(["--quick", "--scenarios", "confirm"]).confirm_actions,
            config.QUICK["confirm_actions"],
        )
        settings = config.parse(["--confirm-actions", "30", "--confirm-workers", "2"])
        self.assertEqual((settings.confirm_actions, settings.confirm_workers), (30, 2))


class ConfirmationFiguresTests(SimpleTestCase):
    def test_throughput_shows_the_backlog_and_the_confirm_lag_with_their_goals(self):
        text = report.table(
            _throughput(
                actions=1149,
                unconfirmed_after=824,
                confirm_lag_p99_s=63.0,
                confirm_lag_ms={
                    "p50": 27904.0,
                    "p95": 58440.6,
                    "p99": 62961.4,
                    "settled": 1149,
                    "unsettled": 0,
                },
                goals={
                    "unconfirmed_after <= 1% of actions": False,
                    "confirm_lag_p99_s <= 2.0": False,
                },
            )
        )
        self.assertTrue(_row(text, "unconfirmed_after").endswith("<= 1% of actions"))
        self.assertIn("824", _row(text, "unconfirmed_after"))
        lag = _row(text, "confirm_lag_p99_s")
        self.assertIn("63.0", lag)
        self.assertTrue(lag.endswith("<= 2.0"))
        self.assertIn("(1149 / 0)", _row(text, "accepted -> settled"))
        self.assertTrue(_row(text, "GOAL confirm_lag_p99_s <= 2.0").endswith("FAILS"))

    def test_neighbour_shows_its_ratio_arms_and_the_lane(self):
        arm = {"confirm_ms": {"p50": 340.0}, "seen_ms": {"p50": 1020.0}}
        busy = {
            "confirm_ms": {"p50": 520.0, "p95": 1278.0, "max": 1561.0},
            "seen_ms": {"p50": 1040.0},
            "default_lane": [
                {"username": "nbr01", "kind": "scheduled", "tasks": 61, "ran_s": 2.5},
                {"username": "nbr02", "kind": "now", "tasks": 1, "ran_s": 0.15},
                {"username": "nbr02", "kind": "scheduled", "tasks": 21, "ran_s": 3.61},
            ],
        }
        results = {
            "neighbour": {
                "notes": 200,
                "actions": 20,
                "users": ["nbr01", "nbr02"],
                "faults": {"latency_ms": 50, "effect_delay_ms": 300},
                "poll_every_ms": 1000,
                "confirm_p50_ratio_to_quiet": 1.49,
                "actions_during_run": 20,
                "arms": {"quiet": arm, "busy": busy, "quiet_after": arm},
                "run": {"results": {"confirmed": 200}},
                "goals": {"confirm_p50_ratio_to_quiet <= 1.2": False},
            }
        }
        text = report.table(results)
        ratio_row = _row(text, "confirm_p50_ratio_to_quiet")
        self.assertIn("1.49", ratio_row)
        self.assertTrue(ratio_row.endswith("<= 1.2"))
        self.assertIn("340.0 / 520.0 / 340.0", _row(text, "202 -> row confirmed p50"))
        self.assertIn("61 (2.5) / 22 (3.76)", _row(text, "default lane beside the run"))
        self.assertIn("20 of 20", _row(text, "actions answered and settled"))
        self.assertTrue(_row(text, "GOAL confirm_p50_ratio_to_quiet <= 1.2").endswith("FAILS"))


class NeighbourSettingsTests(SimpleTestCase):
    def test_neighbour_runs_before_throughput_with_quick_sizes(self):
        order = list(config.SCENARIOS)
        self.assertLess(order.index("neighbour"), order.index("throughput"))
        quick = config.parse(["--quick", "--scenarios", "neighbour"])
        self.assertEqual(quick.scenarios, ["neighbour"])
        self.assertEqual(
            (quick.neighbour_notes, quick.neighbour_actions),
            (config.QUICK["neighbour_notes"], config.QUICK["neighbour_actions"]),
        )
        self.assertEqual(config.parse([]).neighbour_notes, 200)


class RegistryTests(SimpleTestCase):
    def test_every_scenario_runs_and_has_table_rows(self):
        from bench import report_rows, scenarios

        self.assertEqual(set(config.SCENARIOS), set(scenarios.REGISTRY))
        self.assertEqual(set(config.SCENARIOS), set(report_rows.SCENARIO_ROWS))
        (chosen,) = [a for a in config._parser()._actions if a.dest == "scenarios"]
        self.assertIn(",neighbour,", chosen.help)
