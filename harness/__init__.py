"""What runs the services and reads their traces back, for everything that is not a service.

explore/ (the learning tools), bench/, tests/ and examples/pitfalls import it;
the services never do, and it imports nothing of theirs but the declared
list of services (shoptrace.services).
"""
