"""The bench's reading of the portal's htmx answers."""

from django.test import SimpleTestCase

from bench import http

IN_FLIGHT = """<div class="in-flight" role="status"
     hx-get="/notes/attempts/417/?view=row"
     hx-trigger="every 1s" hx-target="#note-actions-x" hx-swap="innerHTML">
  <button type="button" class="btn btn-small btn-busy" disabled>Locking…</button>
</div>"""


class HtmxAnswerTests(SimpleTestCase):
    def test_the_in_flight_fragment_names_its_attempt(self):
        self.assertEqual(http.attempt_id_in(IN_FLIGHT), 417)

    def test_a_row_or_an_error_has_no_attempt(self):
        self.assertIsNone(http.attempt_id_in('<tr id="note-1" hx-get="/notes/1/">'))
        self.assertIsNone(http.attempt_id_in(""))

    def test_toast_of_an_hx_trigger_header(self):
        header = '{"toast": {"message": "Note signed.", "level": "success", "link": null}}'
        self.assertEqual(http.toast_of(header), ("success", "Note signed."))
        self.assertEqual(http.toast_of(None), ("", ""))
        self.assertEqual(http.toast_of("not json"), ("", ""))
        self.assertEqual(http.toast_of('{"other": 1}'), ("", ""))
