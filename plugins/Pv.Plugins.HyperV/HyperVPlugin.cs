// The Hyper-V backend: an x86 guest whose remote TLB flushes are Hyper-V's HvCallFlushVirtualAddressSpace/List
// hypercalls (the Ex forms with a sparse VP set past 64 vCPUs). The hypervisor flushes the target vCPUs itself and
// interrupts none of them, so, as with Xen PV, the flush does not synchronise with a GUP-fast walker running with
// IRQs off: page tables must be freed after an RCU grace period. Era 4.13 models the tree where the hypercalls
// arrived before RCU table free did (the zoo's Z12, fix off).
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pv.Abstractions.Plugins;

namespace Pv.Plugins.HyperV;

/// <summary>Entry point of the Hyper-V plugin.</summary>
public sealed class HyperVPlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "hyperv";

    /// <inheritdoc/>
    public Version Version { get; } = typeof(HyperVPlugin).Assembly.GetName().Version!;

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new(HyperVOptions.X86, "x86 Hyper-V guest: HvCallFlushVirtualAddressSpace/List hypercalls (Ex past 64 vCPUs) that interrupt no vCPU, RCU table free", HyperVOptions.Declared)
        {
            Costs = HyperVOptions.Costs,
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options)
    {
        services.AddOptions<HyperVOptions>().Bind(options).ValidateOnStart();
        services.AddSingleton<IValidateOptions<HyperVOptions>, HyperVOptions.Validator>();
    }
}
