"""Experiments built on the trainer: grokking, Fourier progress measures, sparse parity, double
descent, reconstruction limits.

Public names are re-exported here and imported lazily from their modules
(grokking, fourier_analysis, sparse_parity, double_descent, reconstruction,
reconstruction_grids), so importing one module does not import its siblings. modular_views
holds what the modular-addition figures show (for the CLI and the report).
"""

from __future__ import annotations

from toyforge.core.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AllocationBuild": "toyforge.verify.experiments.class_construction",
    "BatchedRuns": "toyforge.verify.experiments.grok_phase",
    "ConstructionComparison": "toyforge.verify.experiments.fourier_analysis",
    "DEFAULT_SIZES": "toyforge.verify.experiments.double_descent",
    "DoubleDescentConfig": "toyforge.verify.experiments.double_descent",
    "DoubleDescentPoint": "toyforge.verify.experiments.double_descent",
    "DoubleDescentResult": "toyforge.verify.experiments.double_descent",
    "FourierSpectrum": "toyforge.verify.experiments.fourier_analysis",
    "GrokRun": "toyforge.verify.experiments.grok_phase",
    "LABEL_KINDS": "toyforge.verify.experiments.reconstruction",
    "MLP_BLOCK_VARIANTS": "toyforge.verify.experiments.reconstruction",
    "ModularTrainingConfig": "toyforge.verify.experiments.grokking",
    "ModularTrainingResult": "toyforge.verify.experiments.grokking",
    "PairGeometryConfig": "toyforge.verify.experiments.correlated_pairs",
    "ParityTrainingConfig": "toyforge.verify.experiments.sparse_parity",
    "ParityTrainingResult": "toyforge.verify.experiments.sparse_parity",
    "PhaseDiagram": "toyforge.verify.experiments.grok_phase",
    "ProgressMeasures": "toyforge.verify.experiments.fourier_analysis",
    "ReconstructionGrid": "toyforge.verify.experiments.reconstruction_grids",
    "SETTINGS": "toyforge.verify.experiments.reconstruction",
    "SWEEP_AXES": "toyforge.verify.experiments.reconstruction",
    "SettingResult": "toyforge.verify.experiments.reconstruction",
    "TmsImportanceConfig": "toyforge.verify.experiments.tms_importance",
    "TmsImportanceResult": "toyforge.verify.experiments.tms_importance",
    "ToySettingConfig": "toyforge.verify.experiments.reconstruction",
    "TrainedBottleneck": "toyforge.verify.experiments.double_descent",
    "TrainingHistory": "toyforge.verify.experiments.grokking",
    "TruncationResult": "toyforge.verify.experiments.fourier_analysis",
    "WidthScalingConfig": "toyforge.verify.experiments.width_scaling",
    "WidthScalingResult": "toyforge.verify.experiments.width_scaling",
    "all_logits": "toyforge.verify.experiments.fourier_analysis",
    "batch_memory_bytes": "toyforge.verify.experiments.grok_phase",
    "build_allocation": "toyforge.verify.experiments.class_construction",
    "classify_phase": "toyforge.verify.experiments.grok_phase",
    "compare_with_construction": "toyforge.verify.experiments.fourier_analysis",
    "construction_loss": "toyforge.verify.experiments.class_construction",
    "feature_geometry": "toyforge.verify.experiments.double_descent",
    "fourier_basis": "toyforge.verify.experiments.fourier_analysis",
    "fourier_gini": "toyforge.verify.experiments.fourier_analysis",
    "fourier_spectrum": "toyforge.verify.experiments.fourier_analysis",
    "gini": "toyforge.verify.experiments.fourier_analysis",
    "grads_reference": "toyforge.verify.experiments.grokking",
    "init_parameters": "toyforge.verify.experiments.grokking",
    "key_frequencies": "toyforge.verify.experiments.fourier_analysis",
    "load_double_descent": "toyforge.verify.experiments.double_descent",
    "load_reconstruction_grids": "toyforge.verify.experiments.reconstruction_grids",
    "phase_diagram": "toyforge.verify.experiments.grok_phase",
    "prepare_setting": "toyforge.verify.experiments.reconstruction",
    "progress_measures": "toyforge.verify.experiments.fourier_analysis",
    "reconstruction_grid": "toyforge.verify.experiments.reconstruction_grids",
    "restricted_and_excluded_logits": "toyforge.verify.experiments.fourier_analysis",
    "run_double_descent": "toyforge.verify.experiments.double_descent",
    "run_tms_importance": "toyforge.verify.experiments.tms_importance",
    "run_width_scaling": "toyforge.verify.experiments.width_scaling",
    "sparse_recovery_bounds": "toyforge.verify.experiments.reconstruction",
    "sparse_rows": "toyforge.verify.experiments.double_descent",
    "train_batched": "toyforge.verify.experiments.grok_phase",
    "train_bottleneck2d": "toyforge.verify.experiments.double_descent",
    "train_modular_addition": "toyforge.verify.experiments.grokking",
    "train_pair_geometry": "toyforge.verify.experiments.correlated_pairs",
    "train_setting": "toyforge.verify.experiments.reconstruction",
    "train_sparse_parity": "toyforge.verify.experiments.sparse_parity",
    "truncate_to_frequencies": "toyforge.verify.experiments.fourier_analysis",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
