"""Request and response bodies of the gateway (pydantic), kept apart from the logic using them."""
