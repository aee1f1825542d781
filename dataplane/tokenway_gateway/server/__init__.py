"""The gateway's HTTP front end and process lifecycle."""
