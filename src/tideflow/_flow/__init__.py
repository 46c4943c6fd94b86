"""The definition layer: flows, steps, parameters, decorators and the flow graph.

Pure and synchronous: nothing here imports an event loop or touches the stores.
"""
