// One thread per command, not per call, that turns a hang into a named failure. It looks at the command's
// RunWatch and its lanes (one per worker thread) every poll interval: a plugin call still in flight (no call
// entered or left since) for longer than the per-call limit is reported as a hang of that plugin, backend and
// operation. When the command's time limit expires the run is asked to stop at its next schedule boundary; a
// call that was in flight then and still is a second later is reported as a hang (a call merely in flight at
// that instant is not one), and a run that has not stopped within the grace period is stuck (a bug in Pv). A
// thread cannot be stopped inside a call, so what to do about a hang (report, exit) is the caller's.
using System.Diagnostics;

namespace Pv.Hosting.Composition;

/// <summary>A plugin call that did not return in time.</summary>
/// <param name="Plugin">The plugin's name.</param>
/// <param name="Backend">The backend's name.</param>
/// <param name="Operation">The operation in flight, by its kernel name.</param>
/// <param name="Limit">The limit it overran: the per-call limit or the command's time limit.</param>
public sealed record PluginHang(string Plugin, string Backend, string Operation, string Limit)
{
    /// <summary>One line naming the plugin, the backend, the operation and the limit.</summary>
    public override string ToString() => $"plugin '{Plugin}', backend '{Backend}': {Operation} did not return within {Limit}";
}

/// <summary>Watches a <see cref="RunWatch"/> from its own thread until disposed.</summary>
public sealed class PluginWatchdog : IDisposable
{
    private readonly RunWatch _watch;
    private readonly TimeSpan? _timeLimit;
    private readonly TimeSpan _callLimit, _grace, _hangGrace, _poll;
    private readonly Action<PluginHang> _onHang;
    private readonly Action<string> _onStuck;
    private readonly CancellationTokenSource _done = new();
    private readonly Thread _thread;

    /// <summary>Starts watching <paramref name="watch"/>.</summary>
    /// <param name="watch">The command's run watch.</param>
    /// <param name="timeLimit">The command's wall-clock limit, or null for none.</param>
    /// <param name="callLimit">The longest one plugin call may run.</param>
    /// <param name="onHang">Told once about a plugin call that overran a limit (then the watchdog stops).</param>
    /// <param name="onStuck">Told once when the run ignores a stop request for the grace period (then the watchdog stops).</param>
    /// <param name="grace">How long a run may take to reach a schedule boundary after the time limit; 10 s when null.</param>
    /// <param name="poll">How often to look; 50 ms when null.</param>
    public PluginWatchdog(RunWatch watch, TimeSpan? timeLimit, TimeSpan callLimit, Action<PluginHang> onHang, Action<string> onStuck,
        TimeSpan? grace = null, TimeSpan? poll = null)
    {
        (_watch, _timeLimit, _callLimit, _onHang, _onStuck) = (watch, timeLimit, callLimit, onHang, onStuck);
        _grace = grace ?? TimeSpan.FromSeconds(10);
        // How long a call in flight when the time limit asked the run to stop may still take before it is a hang.
        _hangGrace = callLimit < TimeSpan.FromSeconds(1) ? callLimit : TimeSpan.FromSeconds(1);
        _poll = poll ?? TimeSpan.FromMilliseconds(50);
        _thread = new Thread(Watch) { IsBackground = true, Name = "pv watchdog" };
        _thread.Start();
    }

    private void Watch()
    {
        var clock = Stopwatch.StartNew();
        // Per lane (a worker thread of the command): the call count last seen and since when.
        var seen = new Dictionary<RunWatch, (long Calls, TimeSpan Since)>();
        TimeSpan? stopAsked = null;
        while (!_done.Token.WaitHandle.WaitOne(_poll))
        {
            var now = clock.Elapsed;
            (PluginCall Call, TimeSpan Since)? oldest = null;
            foreach (var lane in _watch.Lanes)
            {
                long calls = lane.CallsSeen;
                var call = lane.InFlight;
                if (!seen.TryGetValue(lane, out var last) || last.Calls != calls) seen[lane] = last = (calls, now);
                if (call.Boundary is null || call.Operation is null) continue;
                if (oldest is null || last.Since < oldest.Value.Since) oldest = (call, last.Since);
                if (now - last.Since >= _callLimit)
                {
                    _onHang(new PluginHang(call.Boundary.Plugin, call.Boundary.Backend, call.Operation, $"the per-call limit of {_callLimit.TotalSeconds:0.###} s"));
                    return;
                }
            }
            if (_timeLimit is not { } limit || now < limit) continue;
            if (stopAsked is null)
            {
                // A call in flight at this instant is most likely a short one: ask the run to stop at its next schedule.
                _watch.RequestStop($"the time limit of {limit.TotalSeconds:0.###} s was reached");
                stopAsked = now;
                continue;
            }
            // The same call in flight since before the stop was asked, for the hang grace: it does not return.
            if (oldest is { } hung && hung.Since <= stopAsked && now - stopAsked >= _hangGrace)
            {
                _onHang(new PluginHang(hung.Call.Boundary!.Plugin, hung.Call.Boundary.Backend, hung.Call.Operation!, $"the time limit of {limit.TotalSeconds:0.###} s"));
                return;
            }
            if (now - stopAsked >= _grace)
            {
                _onStuck($"the run did not reach a schedule boundary within {_grace.TotalSeconds:0.###} s of the time limit, outside any plugin call");
                return;
            }
        }
    }


    /// <summary>Stops watching (the command finished).</summary>
    public void Dispose()
    {
        _done.Cancel();
        _thread.Join();
        _done.Dispose();
    }
}
