// The plugin's entry point: its name, the backend it offers with its options and costs, and the registration of
// its options. Pv finds the pv ops (IPvMmuOps) and the arch side (IArchMmu) in this assembly and composes them
// once per simulated machine; the options are bound once per backend of plugins.json.
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Pv.Abstractions.Plugins;

namespace MyArch;

/// <summary>The one public IPvPlugin of the assembly.</summary>
public sealed class MyArchPlugin : IPvPlugin
{
    /// <inheritdoc/>
    public string Name => "myarch";

    /// <inheritdoc/>
    public Version Version { get; } = new(0, 1, 0);

    /// <inheritdoc/>
    public IReadOnlyList<PvBackendInfo> Backends { get; } =
    [
        new("arm64", "broadcast TLBI or waited IPIs for remote flushes; page tables through RCU or right after the flush",
        [
            new PvOptionInfo("rcuTableFree", "free page tables after an RCU grace period; false: right after the flush", "true"),
            new PvOptionInfo("remoteFlush", "broadcast (TLBI, interrupts nobody) or ipi (waited IPIs)", "broadcast"),
        ])
        {
            Costs = [new PvCostInfo(MyArchOptions.MaxTlbiPages, "a range flush of this many pages or more drops the whole ASID", "pages", 64)],
        },
    ];

    /// <inheritdoc/>
    public void Register(IServiceCollection services, IConfiguration options)
    {
        services.AddOptions<MyArchOptions>().Bind(options).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MyArchOptions>, MyArchOptions.Validator>();
    }
}

/// <summary>A backend's options from plugins.json; immutable, so one instance serves every machine.</summary>
public sealed record MyArchOptions
{
    /// <summary>The cost key of the ASID-flush threshold.</summary>
    public const string MaxTlbiPages = "maxTlbiPages";

    /// <summary>Free page tables through RCU (a broadcast TLBI does not wait for IRQ-off walkers).</summary>
    public bool RcuTableFree { get; init; } = true;

    /// <summary>broadcast or ipi.</summary>
    public string RemoteFlush { get; init; } = "broadcast";

    internal sealed class Validator : IValidateOptions<MyArchOptions>
    {
        public ValidateOptionsResult Validate(string? name, MyArchOptions o) =>
            o.RemoteFlush is "broadcast" or "ipi"
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("'remoteFlush' must be broadcast or ipi");
    }
}
