"""Service management: parts demand, inventory policy, service tickets, configuration records."""
