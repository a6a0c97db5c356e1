# NumpyDL 0.4 reference (004_84bfec2b026c558f.txt), "1.4.1 Examples" of npdl.objectives, lines 1545-1550.
import npdl
model = npdl.model.Model()
model.add(npdl.layers.Dense(n_out=100, n_in=50))
model.add(npdl.layers.Dense(n_out=3, activation=npdl.activations.Softmax()))
model.compile(loss=npdl.objectives.SCCE(), optimizer=npdl.optimizers.SGD(lr=0.005))
