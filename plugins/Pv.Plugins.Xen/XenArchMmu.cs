// The x86 arch TLB interface in a Xen PV guest: arch/x86/mm/tlb.c unchanged (it reaches the hypervisor through
// the flush_tlb_multi pv op), with the era's gather knobs.
using Microsoft.Extensions.Options;
using Pv.Abstractions.Gather;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Abstractions.Plugins;
using Pv.Arch.X86;

namespace Pv.Plugins.Xen;

/// <summary>Xen PV IArchMmu.</summary>
[PvArch(XenOptions.X86)]
internal sealed class XenArchMmu(IPvMmuOps pvOps, ICpus cpus, IIpi ipi, IMmuNotifierRegistry notifiers, ICost cost, IOptions<XenOptions> options)
    : X86ArchMmu(pvOps, cpus, ipi, notifiers, cost)
{
    /// <inheritdoc/>
    public override MmuGatherConfig GatherConfig { get; } = options.Value.Gather;
}
