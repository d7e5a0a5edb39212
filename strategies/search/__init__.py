"""``nasscout search``: a low-cost search with real training on your own data (the ``lowcost`` strategy driven
epoch-segment by epoch-segment, so hopeless trainings are stopped while they run).

Layout of a search directory (``--out DIR``); every file is replaced atomically:

``meta.json``      the options (what a ``--resume`` must repeat), versions, start time.
``events.jsonl``   the journal, one JSON object per line, appended and fsynced: ``ask`` (a candidate chosen,
                   with its screen score and what screening cost), ``submit`` (its first segment's target
                   epoch), ``segment`` (epochs trained, partial curve), ``decision`` (continue / stop, with the
                   extrapolated final and P(final > best)), ``tell`` (the value the strategy heard). A resume
                   replays it, then resubmits what was running; the trainings resume from their checkpoints.
``runs.h5`` + ``runs.h5.runs/``  the run store of this search (``surrogate.training.runstore``).
``summary.json``   the state a person reads (the live view's data, rewritten after every event; its schema
                   below). ``report.html``, ``*.png``, ``trials.csv`` are made from it at the end
                   (``strategies.search.report``).

``summary.json`` (``format`` = ``"nasscout-search-1"``)::

    {"format", "dataset", "preset", "epochs" (T of one full training), "seed", "finished" (bool),
     "wall_s" (seconds since the search started, summed over sittings), "workers", "where" (executor),
     "budget": {"unit": "epochs" | "hours", "total" (in that unit), "spent" (in that unit),
                "spent_epochs", "spent_train_s" (measured training + validation seconds),
                "screen_s" (proxy scoring and predictor fits), "fraction" (spent / total)},
     "avoided": {"screened_out" (candidates scored but never trained), "stopped_trials",
                 "stopped_epochs" (epochs the stopped trainings did not train), "stopped_train_s_est"},
     "best": null | {"trial", "cell", "arch", "valid_acc", "test_acc", "params_m", "flops_m",
                     "curve" (valid_acc per epoch), "test_curve"},
     "early_stop": {"rule", "threshold", "extrapolator", "fit", "min_completed" (null: the default),
                    "calibration" (null or the store whose curves calibrate the fit),
                    "checkpoints" (epochs where a training may be stopped)},
     "prior": null | "nb201:cifar10" ...,
     "trials": [{"trial", "cell", "arch", "status" ("queued" | "training" | "finished" | "stopped" |
                 "diverged"), "epochs_done", "valid_acc" (last epoch's), "test_acc", "predicted_final",
                 "p_better" (P(final > best so far) at the last decision), "reason" (one phrase, why stopped or
                 continued), "params_m", "flops_m", "train_s", "screen_score" (the acquisition value that
                 chose it), "curve" (valid_acc per epoch trained), "test_curve"}]}
"""
