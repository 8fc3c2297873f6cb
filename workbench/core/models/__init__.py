"""Model import and inspection: sniff a file's type from its bytes, load and check ONNX, export PyTorch to ONNX.

Modules: ``info`` (TensorSpec, ModelInfo), ``sniff`` (FileKind, sniff), ``load`` (load_onnx, inspect_model,
ensure_onnx), ``pickle_scan`` (opcode scan of torch pickles without unpickling), ``torch_export``
(TorchScript / ExportedProgram -> ONNX), ``resnet`` (ResNet-18-shaped ONNX builder).
Heavy libraries (onnx, torch) are imported inside functions only.
"""
