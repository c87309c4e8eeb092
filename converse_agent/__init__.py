"""The email action group as tools for your own agent loop on the Bedrock Converse API.

The tools are derived at run time from `openapi/email_actions.json` (one per operation), and every
call goes through the action-group function itself: in this process against the local stand-in,
or in the deployed Lambda function. `python -m converse_agent --help` for the command.
"""
