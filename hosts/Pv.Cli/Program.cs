// Entry point of `pv`: everything lives in PvApp so tests run the same code with their own writers. Ctrl-C is
// the host's: the first press lets the work in flight finish (a long command then says what completed and how to
// resume, exit 130), the second stops at the next schedule, a third ends the process as the runtime does.
// Never disposed: a Ctrl-C may still arrive while the process ends, and the handler must not meet a disposed source.
var interrupt = new CancellationTokenSource();
var stopNow = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = !stopNow.IsCancellationRequested;
    if (interrupt.IsCancellationRequested) stopNow.Cancel();
    else interrupt.Cancel();
};
return Pv.Cli.PvApp.Run(args, Console.Out, Console.Error, Environment.CurrentDirectory, interrupt.Token, stopNow.Token);
