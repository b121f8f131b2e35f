"""The same tests, run on the handlers as Canvas runs them: in the plugin sandbox.

`canvas validate` only checks that the modules load under RestrictedPython; code that
breaks the sandbox's rules inside a method fails only when a request runs it. Here
the plugin runner's own loader (`sandbox_plugin_handlers`, strict mode) compiles the
package, and the API, launcher and application tests run against the classes it
returns.
"""

import json
import sys
from contextlib import contextmanager
from functools import cache
from unittest import mock

from plugin_runner.plugin_runner import sandbox_plugin_handlers

from . import test_actions, test_application, test_auth, test_contract, test_notes, test_signers
from .helpers import PLUGIN_ROOT

PACKAGE = PLUGIN_ROOT / "note_sign_api"


def plugin_modules() -> dict:
    """Return the entries of sys.modules that belong to the plugin package."""
    return {
        name: module
        for name, module in sys.modules.items()
        if name == PACKAGE.name or name.startswith(f"{PACKAGE.name}.")
    }


@cache
def sandboxed() -> dict[str, type]:
    """Return each manifest class by name, loaded by the plugin runner in strict mode.

    The runner publishes its sandboxed modules in sys.modules (the package as a plain
    module, and only some of its submodules); the plain imports are put back once it
    is done, so a later `import note_sign_api....` still finds the real package. The
    sandboxed classes keep resolving their imports through the runner's own registry.
    """
    manifest = json.loads((PACKAGE / "CANVAS_MANIFEST.json").read_text())
    components = manifest["components"]
    plain = plugin_modules()
    try:
        results = sandbox_plugin_handlers(
            PACKAGE.name, PACKAGE, components["handlers"] + components["applications"]
        )
    finally:
        for name in plugin_modules():
            del sys.modules[name]
        sys.modules.update(plain)
    classes = {}
    for result in results:
        assert result.error is None, result.error
        assert str(result.sandbox_mode) == "strict", result.sandbox_mode
        classes[result.handler_class] = result.scope[result.handler_class]
    return classes


@contextmanager
def sandbox_templates():
    """Point PLUGIN_DIRECTORY here; sandboxed frames carry `__is_plugin__` themselves."""
    with mock.patch("canvas_sdk.utils.plugins.PLUGIN_DIRECTORY", str(PLUGIN_ROOT)):
        yield


def with_sandboxed(base: type, **names: str) -> type:
    """Return a subclass of the TestCase `base` whose handler attributes are sandboxed."""

    @classmethod
    def setUpClass(cls):
        for attribute, class_name in names.items():
            setattr(cls, attribute, sandboxed()[class_name])
        super(subclass, cls).setUpClass()

    subclass = type(f"Sandboxed{base.__name__}", (base,), {"setUpClass": setUpClass})
    subclass.__module__ = __name__
    return subclass


SandboxedNoteActionMatrixTests = with_sandboxed(test_actions.NoteActionMatrixTests, api="NoteApi")
SandboxedLockSignTests = with_sandboxed(test_actions.LockSignTests, api="NoteApi")
SandboxedActionErrorBodyTests = with_sandboxed(test_actions.ActionErrorBodyTests, api="NoteApi")
SandboxedNoteApiAuthenticationTests = with_sandboxed(
    test_auth.NoteApiAuthenticationTests, api="NoteApi"
)
SandboxedMeTests = with_sandboxed(test_notes.MeTests, api="NoteApi")
SandboxedNoteDetailTests = with_sandboxed(test_notes.NoteDetailTests, api="NoteApi")
SandboxedNoteListTests = with_sandboxed(test_notes.NoteListTests, api="NoteApi")
SandboxedNoteListFilterTests = with_sandboxed(test_notes.NoteListFilterTests, api="NoteApi")
SandboxedNoteHistoryTests = with_sandboxed(test_notes.NoteHistoryTests, api="NoteApi")
SandboxedContractCaseTests = with_sandboxed(test_contract.ContractCaseTests, api="NoteApi")
SandboxedSignerRuleTests = with_sandboxed(test_signers.SignerRuleTests, api="NoteApi")
SandboxedApplicationTests = with_sandboxed(
    test_application.ApplicationTests, application="NoteSignApplication"
)
SandboxedLauncherPageTests = with_sandboxed(
    test_application.LauncherPageTests, launcher="PortalLauncher"
)
SandboxedLauncherPageTests.templates = staticmethod(sandbox_templates)


class SandboxLoadTests(test_actions.TestCase):
    def test_every_manifest_class_loads_strictly(self):
        self.assertEqual(sorted(sandboxed()), ["NoteApi", "NoteSignApplication", "PortalLauncher"])

    def test_classes_are_the_sandbox_compiled_ones(self):
        from note_sign_api.handlers.api import NoteApi

        api = sandboxed()["NoteApi"]
        self.assertIsNot(api, NoteApi)
        self.assertTrue(api.perform.__globals__["__is_plugin__"])
        self.assertIn("_getattr_", api.perform.__code__.co_names)
