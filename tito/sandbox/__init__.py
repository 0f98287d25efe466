"""The sandbox around student code: capabilities and users, the jail, warm starts, the trusted verdict."""
