"""The faster-whisper engine kept warm: the model loads once per process, then each line on stdin is a job.

Started with whisper-ctranslate2's own arguments (minus the audio and output ones), parsed by its own parser,
so every option and default is the CLI's and a job's transcript is what `whisper-ctranslate2 <wav>` writes.

Protocol, one JSON object per line:
  stdin:  {"wav": "/path/16k-mono.wav", "language": "en" | null}
  stdout: `{"visp": "started"}` as a job is read, the CLI's own verbose lines while it runs (segments as
          `[00:01.000 --> 00:07.020]  text`, for progress), then one line `{"visp": "done", "result": {...}}`
          (the CLI's JSON output) or `{"visp": "failed", "error": "..."}`. `{"visp": "ready"}` once the model is
          loaded.
Control lines start with `{"visp"`, which no line of the CLI's does. Errors of a job leave the process serving;
the caller kills the process (its whole group) to abort a job.
"""

import json
import sys
import traceback

from whisper_ctranslate2.commandline import CommandLine
from whisper_ctranslate2.transcribe import Transcribe
from whisper_ctranslate2.whisper_ctranslate2 import get_language, get_transcription_options


def say(message):
    # Strict JSON (no NaN), which the worker can read; a result that is not is the job's failure.
    print(json.dumps(message, allow_nan=False), flush=True)


def main():
    args = CommandLine().read_command_line()
    model = args.pop("model")
    model_directory = args.pop("model_directory")
    transcribe = Transcribe(
        model_directory or model,
        args.pop("device"),
        args.pop("device_index"),
        args.pop("compute_type"),
        args.pop("threads"),
        args.pop("model_dir"),
        args.pop("local_files_only"),
        args.pop("batched"),
        args.pop("batch_size"),
    )
    options = get_transcription_options(args)
    say({"visp": "ready"})
    for line in sys.stdin:
        say({"visp": "started"})
        try:
            job = json.loads(line)
            language = get_language(job.get("language"), model_directory, model)
            result = transcribe.inference(job["wav"], "transcribe", language, True, False, options)
            say({"visp": "done", "result": result})
        except Exception as err:  # noqa: BLE001 -- a job's failure is reported and the engine serves on
            traceback.print_exc(file=sys.stderr)
            say({"visp": "failed", "error": f"{type(err).__name__}: {err}"})


if __name__ == "__main__":
    main()
