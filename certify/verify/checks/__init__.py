"""One checker module per kind of evidence; each registers with `certify.verify.checker`."""
