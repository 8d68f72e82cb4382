"""Integrators as ``init``/``step`` function pairs over a batched :class:`MDState` (ASE units and time).

Each step makes one batched force call. The schemes are ASE's, written for a batch of replicas:

- NVE: velocity Verlet (``ase.md.verlet.VelocityVerlet``).
- Langevin NVT: the Vanden-Eijnden–Ciccotti propagator of ``ase.md.langevin.Langevin`` (Eq. 23 of
  Chem. Phys. Lett. 429, 310 (2006)) with ASE's definition of friction: dp = F dt − γ p dt + √(2 m γ kT) dW,
  γ in inverse ASE time units, so ``friction=5e-3`` means what it means in ASE (≈ 4.91e-4 fs⁻¹). ASE's
  deprecated ``fixcm=True`` correction of the centre of mass is not applied (it samples a slightly wrong
  ensemble); the trajectory equals ASE's ``Langevin(..., fixcm=False)`` given the same random numbers.
- Nosé–Hoover chain NVT: ``ase.md.nose_hoover_chain.NoseHooverChainNVT`` (Martyna–Tuckerman–Klein chain,
  fourth-order Suzuki–Yoshida splitting, one thermostat loop), one chain per replica with 3N degrees of
  freedom.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from ase import units

from egraffbench.md.protocol import MDProtocol
from egraffbench.md.state import MDState

ForceFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""positions (N, 3) Å → (potential energy (R,) eV, forces (N, 3) eV/Å) of the current batch."""
NoiseFn = Callable[[], torch.Tensor]
"""→ (N, 3) standard normal numbers, each replica's rows from its own stream."""

SUZUKI_YOSHIDA_4 = (
    1 / (2 - 2 ** (1 / 3)),
    -(2 ** (1 / 3)) / (2 - 2 ** (1 / 3)),
    1 / (2 - 2 ** (1 / 3)),
)


@dataclass(frozen=True)
class Integrator:
    """``init`` sets the thermostat variables of a state with computed forces; ``step`` advances one dt."""

    init: Callable[[MDState], MDState]
    step: Callable[[MDState, ForceFn, NoiseFn], MDState]


def velocity_verlet_step(state: MDState, dt: float, compute: ForceFn) -> MDState:
    """One NVE velocity-Verlet step of ``dt`` (ASE time)."""
    momenta = state.momenta + 0.5 * dt * state.forces
    positions = state.positions + dt * momenta / state.masses[:, None]
    energy, forces = compute(positions)
    momenta = momenta + 0.5 * dt * forces
    return replace(state, positions=positions, momenta=momenta, forces=forces, energy=energy)


def langevin_step(state: MDState, dt: float, friction: float, compute: ForceFn, noise: NoiseFn) -> MDState:
    """One Langevin step of ``dt`` (ASE time), friction γ (1/ASE time); ASE's propagator and coefficients."""
    masses = state.masses[:, None]
    sigma = torch.sqrt(2.0 * state.kT[state.system_index][:, None] * friction / masses)
    c1 = dt / 2.0 - dt * dt * friction / 8.0
    c2 = dt * friction / 2.0 - dt * dt * friction * friction / 8.0
    c3 = math.sqrt(dt) * sigma / 2.0 - dt**1.5 * friction * sigma / 8.0
    c5 = dt**1.5 * sigma / (2.0 * math.sqrt(3.0))
    c4 = friction / 2.0 * c5
    xi, eta = noise(), noise()
    random_position = c5 * eta
    random_velocity = c3 * xi - c4 * eta
    velocities = state.momenta / masses
    velocities = velocities + c1 * state.forces / masses - c2 * velocities + random_velocity
    positions = state.positions + dt * velocities + random_position
    energy, forces = compute(positions)
    velocities = velocities + c1 * forces / masses - c2 * velocities + random_velocity
    return replace(state, positions=positions, momenta=velocities * masses, forces=forces, energy=energy)


def nose_hoover_init(state: MDState, tdamp: float, chain_length: int = 3) -> MDState:
    """Chain at rest with ASE's masses: Q₀ = 3N kT τ², Qⱼ = kT τ² (τ = ``tdamp``, ASE time)."""
    dof = 3.0 * state.atom_counts.to(state.kT.dtype)
    masses = (state.kT * tdamp**2)[:, None].repeat(1, chain_length)
    masses[:, 0] *= dof
    zeros = torch.zeros_like(masses)
    return replace(state, chain_positions=zeros, chain_momenta=zeros.clone(), chain_masses=masses)


def nose_hoover_step(state: MDState, dt: float, compute: ForceFn) -> MDState:
    """One Nosé–Hoover chain step of ``dt`` (ASE time): thermostat dt/2, velocity Verlet, thermostat dt/2."""
    state = _thermostat_half_step(state, dt / 2.0)
    state = velocity_verlet_step(state, dt, compute)
    return _thermostat_half_step(state, dt / 2.0)


def nose_hoover_energy(state: MDState) -> torch.Tensor:
    """Thermostat energy per replica (R,), eV; potential + kinetic + this is conserved."""
    dof = 3.0 * state.atom_counts.to(state.kT.dtype)
    eta, p_eta, masses = state.chain_positions, state.chain_momenta, state.chain_masses
    return dof * state.kT * eta[:, 0] + state.kT * eta[:, 1:].sum(1) + (0.5 * p_eta.square() / masses).sum(1)


def _thermostat_half_step(state: MDState, delta: float) -> MDState:
    """exp(iL_NHC δ) of ASE's NoseHooverChainThermostat, per replica; scales each replica's momenta.

    The chain is a few numbers per replica updated dozens of times in sequence: it runs in float64 NumPy on
    the host (microseconds per update), and only the momentum scale of each replica goes back to the device.
    """
    like = {"dtype": state.kT.dtype, "device": state.kT.device}
    kT = _host(state.kT)
    eta, p_eta, masses = _host(state.chain_positions), _host(state.chain_momenta), _host(state.chain_masses)
    dof_kT = 3.0 * state.atom_counts.cpu().numpy() * kT
    twice_kinetic = 2.0 * _host(state.kinetic_energy())
    total_scale = np.ones_like(kT)
    length = eta.shape[1]

    def update_chain_momentum(j: int, half: float, quarter: float) -> None:
        if j < length - 1:
            p_eta[:, j] *= np.exp(-quarter * p_eta[:, j + 1] / masses[:, j + 1])
        force = twice_kinetic - dof_kT if j == 0 else p_eta[:, j - 1] ** 2 / masses[:, j - 1] - kT
        p_eta[:, j] += half * force
        if j < length - 1:
            p_eta[:, j] *= np.exp(-quarter * p_eta[:, j + 1] / masses[:, j + 1])

    for coefficient in SUZUKI_YOSHIDA_4:
        sub = coefficient * delta
        for j in reversed(range(length)):
            update_chain_momentum(j, sub / 2.0, sub / 4.0)
        eta += sub * p_eta / masses
        scale = np.exp(-sub * p_eta[:, 0] / masses[:, 0])
        total_scale *= scale
        twice_kinetic *= scale**2
        for j in range(length):
            update_chain_momentum(j, sub / 2.0, sub / 4.0)
    momenta = state.momenta * torch.as_tensor(total_scale, **like)[state.system_index][:, None]
    return replace(
        state,
        momenta=momenta,
        chain_positions=torch.as_tensor(eta, **like),
        chain_momenta=torch.as_tensor(p_eta, **like),
    )


def _host(tensor: torch.Tensor) -> np.ndarray:
    """A float64 NumPy copy of ``tensor``."""
    return tensor.detach().cpu().double().numpy().copy()


def integrator_for(protocol: MDProtocol) -> Integrator:
    """The init/step pair of ``protocol.ensemble`` with its time step and thermostat settings."""
    dt = protocol.timestep_fs * units.fs
    if protocol.ensemble == "nve":
        return Integrator(
            init=lambda state: state, step=lambda s, compute, noise: velocity_verlet_step(s, dt, compute)
        )
    if protocol.ensemble == "nvt-langevin":
        friction = protocol.friction
        return Integrator(
            init=lambda state: state,
            step=lambda s, compute, noise: langevin_step(s, dt, friction, compute, noise),
        )
    tdamp = protocol.nose_hoover_tdamp_fs * units.fs
    length = protocol.nose_hoover_chain
    return Integrator(
        init=lambda state: nose_hoover_init(state, tdamp, length),
        step=lambda s, compute, noise: nose_hoover_step(s, dt, compute),
    )
