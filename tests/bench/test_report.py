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


class SettingsTests(SimpleTestCase):
    def test_quick_and_scenario_selection(self):
        settings = config.parse(["--quick", "--scenarios", "overhead,refresh-storm"])
        self.assertEqual(settings.scenarios, ["overhead", "refresh_storm"])
        self.assertEqual(settings.overhead_iterations, config.QUICK["overhead_iterations"])

    def test_unknown_scenario_is_refused(self):
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()) as err:
            config.parse(["--scenarios", "nonsense"])
        self.assertIn("unknown scenario(s): nonsense", err.getvalue())
