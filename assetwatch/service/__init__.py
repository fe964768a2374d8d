"""Service management: the business after the prediction.

Owns master data (parts, kits, BOM, datasheet lives, lead times, stock), parts demand and
inventory policy, service tickets and their lifecycle, configuration records and the
warranty forecast, and the planners' exports. Reads predictions; writes nothing upstream.
"""
