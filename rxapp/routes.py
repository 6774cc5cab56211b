"""Route constants: the stable URLs of the app."""

INDEX = "/"
LOGIN = "/login"
PASSCODE = "/passcode"
PROFILE = "/profile"
USERS = "/users"
