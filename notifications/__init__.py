"""Adapters that deliver notices: SMS and voice through Twilio, letters as PDF, and fakes."""
