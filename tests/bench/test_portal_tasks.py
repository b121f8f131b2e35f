"""The portal-side bench tasks find what they need in the portal."""

from django.test import SimpleTestCase

from bench import portal_tasks


class PortalTasksTests(SimpleTestCase):
    def test_every_piece_the_scenarios_need_is_found(self):
        self.assertEqual({name: why for name, why in portal_tasks.probe().items() if why}, {})

    def test_messages_come_from_every_exception_module(self):
        found = portal_tasks.messages()["messages"]
        self.assertIn("Canvas has no note with that ID.", found)
        self.assertIn("Your account is not connected to Canvas yet. Connect it to continue.", found)
        self.assertEqual([t for t in found if not isinstance(t, str) or not t], [])
