// The engine's own cost figures, in simulated nanoseconds: what the engine charges for the hardware and host
// mechanisms it performs itself (TLB hits, walk levels, local and broadcast invalidations, IPIs sent and taken,
// hypercalls, firmware calls, RCU grace periods, host syscalls, stub round trips, page faults). The table is closed: a cost
// that only one backend incurs (an SMMU command batch, a flush ceiling) is declared by its plugin
// (PvBackendInfo.Costs) and read through ICost.Value, so nothing is counted twice and the contract does not
// grow with every backend. A backend's "cost" section in plugins.json and a scenario's cost lines override
// these figures by the camelCase property name (ipiInitiator), bound by Microsoft.Extensions.Configuration.
namespace Pv.Abstractions.Host;

/// <summary>
/// The engine's simulated costs, in nanoseconds. The camelCase property names (<c>tlbHit</c>, <c>ipiInitiator</c>, …)
/// are keys of a backend's <c>cost</c> section, next to the keys its plugin declares.
/// </summary>
public sealed record CostModel
{
    /// <summary>A TLB-hit memory access.</summary>
    public long TlbHit { get; init; } = 1;
    /// <summary>One level of a hardware page walk (TLB miss).</summary>
    public long WalkLevel { get; init; } = 25;
    /// <summary>Local INVLPG of one page.</summary>
    public long LocalInvlpg { get; init; } = 100;
    /// <summary>Local full (non-global) flush, before refill.</summary>
    public long LocalFullFlush { get; init; } = 50;
    /// <summary>Global flush (CR4.PGE toggle).</summary>
    public long GlobalFlush { get; init; } = 300;
    /// <summary>IPI shootdown: the initiator's fixed cost.</summary>
    public long IpiInitiator { get; init; } = 700;
    /// <summary>IPI shootdown: the initiator's cost per extra target.</summary>
    public long IpiPerExtraTarget { get; init; } = 150;
    /// <summary>IPI shootdown: each target's interruption.</summary>
    public long IpiTargetInterrupt { get; init; } = 1000;
    /// <summary>One Xen hypercall (or multicall batch), hypervisor-side flush included.</summary>
    public long Hypercall { get; init; } = 1000;
    /// <summary>One firmware call (an SBI ecall into M-mode and back), charged to the caller (contract 2.2).</summary>
    public long FirmwareCall { get; init; } = 1200;
    /// <summary>A firmware call acting on other CPUs: each remote target (an M-mode software interrupt and its fence).</summary>
    public long FirmwareCallPerTarget { get; init; } = 300;
    /// <summary>arm64 broadcast TLBI + DSB, per page.</summary>
    public long BroadcastTlbiPerPage { get; init; } = 350;
    /// <summary>One RCU grace period (idle machine).</summary>
    public long RcuGracePeriod { get; init; } = 8_000_000;
    /// <summary>One UML host syscall (mmap/munmap/mprotect).</summary>
    public long HostSyscall { get; init; } = 600;
    /// <summary>One UML stub round trip.</summary>
    public long StubRoundTrip { get; init; } = 5000;
    /// <summary>A page fault's entry and exit.</summary>
    public long PageFault { get; init; } = 500;
}
