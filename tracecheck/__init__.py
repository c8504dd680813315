"""What you run against your own services' traces: the doctor that finds where context broke, and the Jaeger reading under it.

Nothing in it knows any particular service, and the services never import it.
"""
