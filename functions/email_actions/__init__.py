"""The email action group of a Bedrock Agent, backed by MultiMail."""
