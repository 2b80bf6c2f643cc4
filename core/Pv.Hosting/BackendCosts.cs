// The cost figures of one backend's machines: the engine's CostModel (the mechanisms the engine charges itself)
// and the costs the backend's plugin declares (PvBackendInfo.Costs), with plugins.json's "cost" section applied
// and then, for one scenario, its cost lines. A key must be an engine key (a CostModel property, camelCase) or
// one the backend declares; the check gives the same message wherever the key was written. Values are bound by
// Microsoft.Extensions.Configuration's binder (engine keys onto a copy of the CostModel), never set by hand.
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Pv.Abstractions.Host;
using Pv.Abstractions.Plugins;
using Pv.Hosting.Config;

namespace Pv.Hosting;

/// <summary>The costs in force for a backend: the engine's figures and the backend's declared ones.</summary>
public sealed class BackendCosts
{
    private BackendCosts(string owners, IReadOnlyList<PvCostInfo> declaredInfo, CostModel engine, IReadOnlyDictionary<string, long> declared)
    {
        _owners = owners;
        DeclaredInfo = declaredInfo;
        Engine = engine;
        Declared = declared;
    }

    /// <summary>Who declares the costs, for messages: <c>backend 'x86-native'</c>.</summary>
    private readonly string _owners;

    /// <summary>The engine's cost keys: the <see cref="CostModel"/> properties in camelCase (<c>ipiInitiator</c>).</summary>
    public static IReadOnlyList<string> EngineKeys { get; } =
        [.. typeof(CostModel).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name))];

    /// <summary>The declarations of the backend's own costs (with a secondary-MMU backend's, see <see cref="Including"/>).</summary>
    public IReadOnlyList<PvCostInfo> DeclaredInfo { get; }

    /// <summary>The engine's figures.</summary>
    public CostModel Engine { get; }

    /// <summary>The values of the declared costs, by key (declared defaults unless overridden).</summary>
    public IReadOnlyDictionary<string, long> Declared { get; }

    /// <summary>The defaults of backend <paramref name="backend"/>: the engine's and what <paramref name="info"/> declares.</summary>
    public static BackendCosts Defaults(string backend, PvBackendInfo info) =>
        new($"backend '{backend}'", info.Costs, new CostModel(), info.Costs.ToDictionary(c => c.Key, c => c.Default, StringComparer.Ordinal));

    /// <summary>Every key a <c>cost</c> section or line may set here: the engine's, then the declared ones.</summary>
    public IReadOnlyList<string> Keys => [.. EngineKeys, .. DeclaredInfo.Select(c => c.Key)];

    /// <summary>
    /// Why <paramref name="key"/> cannot be set here (an old spelling of a known key is named with its new one;
    /// otherwise the known keys are listed), or null when it can.
    /// </summary>
    public string? KeyProblem(string key)
    {
        var keys = Keys;
        return keys.Contains(key, StringComparer.Ordinal)
            ? null
            : ConfigKeys.Unknown($"cost key '{key}'", key, $"is neither an engine cost nor one {_owners} declares", keys);
    }

    /// <summary>
    /// These costs and the declared ones of <paramref name="secondary"/>, a secondary-MMU backend composed onto the same
    /// machine, with their values in force there: one machine, one cost table.
    /// </summary>
    public BackendCosts Including(BackendCosts secondary)
    {
        var declared = new Dictionary<string, long>(Declared, StringComparer.Ordinal);
        foreach (var (key, value) in secondary.Declared) declared[key] = value;
        return new BackendCosts($"{_owners} or {secondary._owners}", [.. DeclaredInfo, .. secondary.DeclaredInfo.Where(c => !Declared.ContainsKey(c.Key))], Engine, declared);
    }

    /// <summary>These costs with <paramref name="overrides"/> applied in order (a later one wins).</summary>
    /// <exception cref="ArgumentException">A key is not one of <see cref="Keys"/> (check with <see cref="KeyProblem"/> first), or a value is negative.</exception>
    public BackendCosts With(IEnumerable<KeyValuePair<string, long>> overrides)
    {
        var list = overrides.ToList();
        foreach (var (key, value) in list)
        {
            if (KeyProblem(key) is { } problem) throw new ArgumentException(problem, nameof(overrides));
            ArgumentOutOfRangeException.ThrowIfNegative(value, key);
        }
        if (list.Count == 0) return this;
        var engine = Engine with { };
        new ConfigurationBuilder()
            .AddInMemoryCollection(list.Where(o => EngineKeys.Contains(o.Key, StringComparer.Ordinal))
                .Select(o => KeyValuePair.Create(o.Key, (string?)o.Value.ToString(CultureInfo.InvariantCulture))))
            .Build()
            .Bind(engine);
        var declared = new Dictionary<string, long>(Declared, StringComparer.Ordinal);
        foreach (var (key, value) in list.Where(o => Declared.ContainsKey(o.Key))) declared[key] = value;
        return new BackendCosts(_owners, DeclaredInfo, engine, declared);
    }
}
