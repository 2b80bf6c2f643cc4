// Test doubles for the host services a machine's provider needs, until the engine provides the real ones.
// IMetrics and ICost really count (the decorator and cost tests read them); ICpus knows its size; every
// other service is a proxy that throws if a plugin calls it, so a test never passes by accident.
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;

namespace Pv.Hosting.Tests;

/// <summary>Registers test host services.</summary>
internal static class TestHost
{
    /// <summary>The host service types the engine will register.</summary>
    public static readonly Type[] ServiceTypes =
    [
        typeof(ICpus), typeof(IIpi), typeof(IHypervisor), typeof(IRcu), typeof(IWaits), typeof(IFrames), typeof(IPageTables),
        typeof(IHostMappings), typeof(IDeviceDmaPort), typeof(IMetrics), typeof(ICost), typeof(IMmuNotifierRegistry),
    ];

    /// <summary>A callback registering every host service except <paramref name="except"/>.</summary>
    public static Action<IServiceCollection> Services(params Type[] except) => services =>
    {
        foreach (var type in ServiceTypes.Except(except))
        {
            if (type == typeof(IMetrics)) services.AddSingleton<IMetrics, TestMetrics>();
            else if (type == typeof(ICost)) services.AddSingleton<ICost, TestCost>();
            else if (type == typeof(ICpus)) services.AddSingleton<ICpus>(new TestCpus(4));
            else services.AddSingleton(type, DispatchProxy.Create(type, typeof(NotSimulated)));
        }
    };
}

/// <summary>Counters in a dictionary.</summary>
internal sealed class TestMetrics : IMetrics
{
    private readonly SortedDictionary<string, PvCounter> _counters = new(StringComparer.Ordinal);

    public PvCounter Counter(string name) =>
        _counters.TryGetValue(name, out var counter) ? counter : _counters[name] = new PvCounter(name);

    public IReadOnlyList<PvCounter> All => [.. _counters.Values];

    /// <summary>The value of <paramref name="name"/>, 0 if never used.</summary>
    public long Value(string name) => _counters.TryGetValue(name, out var counter) ? counter.Value : 0;
}

/// <summary>Per-CPU time over the machine's CostModel.</summary>
internal sealed class TestCost(CostModel model) : ICost
{
    private readonly Dictionary<int, long> _charged = [];

    public CostModel Model => model;

    public void Charge(int cpu, long nanoseconds) => _charged[cpu] = Charged(cpu) + nanoseconds;

    public long Charged(int cpu) => _charged.GetValueOrDefault(cpu);

    public long Total => _charged.Values.Sum();
}

/// <summary>A machine with <paramref name="count"/> CPUs; nothing runs on them.</summary>
internal sealed class TestCpus(int count) : ICpus
{
    public int Count => count;

    public CpuMask Online => CpuMask.FirstN(count);

    public ICpu Current => throw NotSimulated.Error("ICpus.Current");

    public ICpu this[int cpu] => throw NotSimulated.Error("ICpus[]");

    public CpuMask MmCpumask(MmId mm) => throw NotSimulated.Error("ICpus.MmCpumask");

    public void ClearMmCpumask(MmId mm, int cpu) => throw NotSimulated.Error("ICpus.ClearMmCpumask");

    public ulong MmTlbGen(MmId mm) => throw NotSimulated.Error("ICpus.MmTlbGen");

    public ulong IncMmTlbGen(MmId mm) => throw NotSimulated.Error("ICpus.IncMmTlbGen");

    public void BroadcastInvalidate(in TlbInvalidation invalidation) => throw NotSimulated.Error("ICpus.BroadcastInvalidate");
}

/// <summary>A host service the hosting tests do not simulate: any call throws.</summary>
public class NotSimulated : DispatchProxy
{
    /// <summary>The exception for a call to <paramref name="member"/>.</summary>
    public static NotSupportedException Error(string member) => new($"{member} is not simulated by the hosting tests' host");

    /// <inheritdoc/>
    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
        throw Error($"{targetMethod?.DeclaringType?.Name}.{targetMethod?.Name}");
}
