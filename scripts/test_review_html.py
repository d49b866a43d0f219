"""The weekly review's HTML page in a real browser: Debian's headless Chromium loads the page the
review golden test writes (crates/incident-core/tests/review.rs), with nothing but the page itself
reachable. It must render without a console error or a Content Security Policy violation, with its
eight charts and its hostile title inert; the screenshot is kept as a test artifact
($CARGO_TARGET_DIR/artifacts/review-2026-W48.png; REVIEW_SCREENSHOT names another path)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PAGE = os.path.join(TARGET, "tmp", "review-2026-W48.html")
SCREENSHOT = os.environ.get("REVIEW_SCREENSHOT", os.path.join(TARGET, "artifacts", "review-2026-W48.png"))


def chromium(*args):
    if not os.path.isfile(PAGE):
        raise AssertionError(f"no page at {PAGE}: cargo test writes it (with the same CARGO_TARGET_DIR)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise AssertionError("no chromium on PATH: scripts/test installs Debian's package (install_browser)")
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}",
             "--window-size=1200,2000", *args, "file://" + PAGE],
            capture_output=True, text=True, timeout=120)


class ReviewPage(unittest.TestCase):
    def test_the_page_renders_its_charts_with_no_error_and_its_hostile_text_inert(self):
        dom = chromium("--dump-dom")
        self.assertEqual(dom.returncode, 0, dom.stderr[-2000:])
        problems = [line for line in dom.stderr.splitlines()
                    if re.search(r"CONSOLE|Uncaught|Refused to|Content Security Policy", line)]
        self.assertEqual(problems, [], "the browser reported errors")
        self.assertEqual(dom.stdout.count("<svg"), 8)
        self.assertIn("Weekly operational review 2026-W48", dom.stdout)
        self.assertNotIn("<script", dom.stdout)
        self.assertIn("&lt;script&gt;alert", dom.stdout)

    def test_a_screenshot_is_kept(self):
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        shot = chromium(f"--screenshot={SCREENSHOT}", "--hide-scrollbars")
        self.assertEqual(shot.returncode, 0, shot.stderr[-2000:])
        with open(SCREENSHOT, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertGreater(os.path.getsize(SCREENSHOT), 20_000)


if __name__ == "__main__":
    unittest.main()
