"""The law of robustness lab (Bubeck, Li, Nagaraj, COLT 2021): train interpolating two-layer
networks on generic data over a grid of (n, d, k), certify an interval for each network's
Lipschitz constant on the sphere, store one row per network, and fit the scaling in √(n/k)."""
