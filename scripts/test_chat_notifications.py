"""The chat notifications incident-loop publishes, checked against the documented event format of
Amazon Q Developer in chat applications' custom notifications (tests/schemas/). The samples are
written by crates/incident-core/tests/chat_samples.rs (`cargo test` runs it first); CHAT_SAMPLES
names the file (default: $CARGO_TARGET_DIR/tmp/chat-notifications.json)."""
import json
import os
import unittest

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "tests", "schemas", "chat-custom-notification.schema.json")


def samples_path():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.environ.get("CHAT_SAMPLES", os.path.join(target, "tmp", "chat-notifications.json"))


class ChatNotifications(unittest.TestCase):
    def setUp(self):
        with open(SCHEMA) as f:
            self.schema = json.load(f)
        jsonschema.Draft202012Validator.check_schema(self.schema)
        with open(samples_path()) as f:
            self.samples = json.load(f)

    def test_every_sample_is_a_documented_custom_notification(self):
        self.assertGreaterEqual(len(self.samples), 9)
        validator = jsonschema.Draft202012Validator(self.schema)
        for sample in self.samples:
            errors = [e.message for e in validator.iter_errors(sample)]
            self.assertEqual(errors, [], json.dumps(sample)[:300])

    def test_the_schema_refuses_what_the_documentation_refuses(self):
        validator = jsonschema.Draft202012Validator(self.schema)
        good = self.samples[0]
        for broken in (
            {**good, "version": "2.0"},
            {**good, "source": "aws.cloudwatch"},
            {**good, "content": {k: v for k, v in good["content"].items() if k != "description"}},
            {**good, "content": {**good["content"], "textType": "html"}},
        ):
            self.assertTrue(list(validator.iter_errors(broken)), json.dumps(broken)[:200])


if __name__ == "__main__":
    unittest.main()
