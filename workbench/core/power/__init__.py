"""Power modes: nvpmodel conf/query/set, jetson_clocks, and the power-mode sweep core."""
